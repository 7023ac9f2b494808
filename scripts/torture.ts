#!/usr/bin/env bun
// Crash-consistency torture: producers and consumers run while the server is SIGKILLed at random
// moments, round after round, on one data dir; then everything is drained and checked against
// what clients were told (every replied XADD processed, nothing delivered after its XACK reply).
import Redis from "ioredis";
import { join } from "node:path";
import { BUN, type EzraProcess, ROOT, removeDir, startEzra, tempDir } from "../test/helpers/servers.ts";
import { mulberry32 } from "../test/resp/prng.ts";

export interface TortureOptions {
  rounds: number;
  /** Longest load window per round, in seconds; the kill lands at a random moment inside it. */
  seconds: number;
  durability: "full" | "normal";
  seed: number;
  producers: number;
  consumers: number;
  log?: (line: string) => void;
}

export interface TortureSummary {
  durability: string;
  seed: number;
  rounds: number;
  kills: number;
  addsSent: number;
  addsReplied: number;
  acksReplied: number;
  nacksReplied: number;
  deliveries: number;
  tasksProcessed: number;
  duplicates: number;
  /** Extra deliveries not explained by an answered XNACK: redeliveries caused by the kills. */
  duplicatesFromKills: number;
  /** Replied XADDs never delivered by the end: must be 0. */
  lost: number;
  /** Deliveries received after that task's XACK had been answered: must be 0. */
  deliveredAfterAck: number;
  /** Deliveries whose fields differ from what XADD stored under that id: must be 0. */
  wrongPayload: number;
  /** XACKs of a task this consumer had just received that answered 0: must be 0. */
  acksRefused: number;
  /** Tasks left available or in flight after the drain: must be 0. */
  leftOver: number;
  /** Tasks in state done after the drain: must equal tasksProcessed (nothing stored unseen). */
  doneAtEnd: number;
  ok: boolean;
  elapsedMs: number;
}

const QUEUES = ["torture:a", "torture:b"];
const GROUP = "workers";
const NACK_PERCENT = 5;
const PIPELINE_DEPTH = 8;
const READ_COUNT = 16;
const BLOCK_MS = 200;
const DRAIN_IDLE_READS = 3;
// Rounds that also kill a server during start-up (restart recovery), before it listens.
const EARLY_KILL_PERCENT = 25;
const EARLY_KILL_WINDOW_MS = 300;
// Leases longer than any round and attempts that never run out: only restarts redeliver.
const SERVER_ARGS = ["--visibility-timeout", "3600", "--max-attempts", "1000000", "--retention-seconds", "86400"];

/** A seeded generator (mulberry32), so a failing run can be replayed with its --seed. */
export const seededRandom = mulberry32;

/** A client that never retries or queues: a command either gets its reply or rejects. */
function connect(port: number): Redis {
  const redis = new Redis({
    port,
    host: "127.0.0.1",
    enableOfflineQueue: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  redis.on("error", () => {}); // a reset connection is expected: the server was killed
  return redis;
}

class Ledger {
  readonly payloadById = new Map<string, string>();
  /** Tasks whose XACK was answered: none of them may be delivered again. */
  readonly acked = new Set<string>();
  readonly deliveries = new Map<string, number>();
  addsSent = 0;
  acksReplied = 0;
  nacksReplied = 0;
  deliveriesTotal = 0;
  deliveredAfterAck = 0;
  wrongPayload = 0;
  acksRefused = 0;
  doneAtEnd = 0;
  kills = 0;
  delivered(key: string, id: string, fields: string[]): void {
    const tag = `${key} ${id}`;
    this.deliveriesTotal++;
    this.deliveries.set(tag, (this.deliveries.get(tag) ?? 0) + 1);
    if (this.acked.has(tag)) this.deliveredAfterAck++;
    const expected = this.payloadById.get(tag);
    const payload = fields[0] === "p" ? fields[1] : undefined;
    if (expected !== undefined && payload !== expected) this.wrongPayload++;
  }
}

async function produce(redis: Redis, ledger: Ledger, name: string, random: () => number, until: () => boolean) {
  let n = 0;
  const inFlight = new Set<Promise<void>>();
  while (!until()) {
    const key = QUEUES[Math.floor(random() * QUEUES.length)];
    const payload = `${name}-${n++}-${"x".repeat(Math.floor(random() * 64))}`;
    ledger.addsSent++;
    const op: Promise<void> = redis.xadd(key, "*", "p", payload).then(
      (id) => {
        ledger.payloadById.set(`${key} ${id}`, payload);
      },
      () => {}, // no reply: the task may or may not be stored, both are allowed
    );
    inFlight.add(op);
    void op.finally(() => inFlight.delete(op));
    if (inFlight.size >= PIPELINE_DEPTH) await Promise.race(inFlight);
    if (redis.status === "end") break;
  }
  await Promise.allSettled(inFlight);
}

type ReadReply = [string, [string, string[]][]][] | null;

async function consume(
  redis: Redis, ledger: Ledger, name: string, random: () => number, until: () => boolean, idleReadsMax = Infinity,
): Promise<void> {
  let idleReads = 0;
  while (!until() && redis.status !== "end" && idleReads < idleReadsMax) {
    let reply: ReadReply;
    try {
      reply = (await redis.xreadgroup("GROUP", GROUP, name, "COUNT", READ_COUNT, "BLOCK", BLOCK_MS, "STREAMS", ...QUEUES, ...QUEUES.map(() => ">"))) as ReadReply;
    } catch {
      break; // the server died; this worker's deliveries come back after the restart
    }
    if (!reply) {
      idleReads++;
      continue;
    }
    idleReads = 0;
    for (const [key, entries] of reply) {
      for (const [id, fields] of entries) ledger.delivered(key, id, fields);
      const nacked = entries.filter(() => random() * 100 < NACK_PERCENT).map(([id]) => id);
      const acked = entries.map(([id]) => id).filter((id) => !nacked.includes(id));
      try {
        for (const id of nacked) {
          await redis.call("XNACK", key, GROUP, id, "REASON", "torture nack");
          ledger.nacksReplied++;
        }
        if (acked.length === 0) continue;
        const count = await redis.xack(key, GROUP, ...acked);
        ledger.acksReplied++;
        if (count !== acked.length) ledger.acksRefused += acked.length - count;
        for (const id of acked) ledger.acked.add(`${key} ${id}`);
      } catch {
        break;
      }
    }
  }
}

async function closeAll(clients: Redis[]): Promise<void> {
  for (const c of clients) c.disconnect();
}

/** One round: start (or restart) the server, run load, SIGKILL it at a random moment. */
/** Starts a server and SIGKILLs it within EARLY_KILL_WINDOW_MS, often mid-recovery. */
async function earlyKill(dataDir: string, options: TortureOptions, random: () => number): Promise<void> {
  const proc = Bun.spawn([BUN, join(ROOT, "src", "main.ts"), "--data-dir", dataDir, "--port", "0", "--durability", options.durability, ...SERVER_ARGS], {
    stdout: "ignore",
    stderr: "ignore",
  });
  await Bun.sleep(Math.floor(random() * EARLY_KILL_WINDOW_MS));
  proc.kill("SIGKILL");
  await proc.exited;
}

async function round(dataDir: string, options: TortureOptions, ledger: Ledger, random: () => number): Promise<number> {
  if (random() * 100 < EARLY_KILL_PERCENT) {
    await earlyKill(dataDir, options, random);
    ledger.kills++;
  }
  ledger.kills++;
  const server = await startEzra({ dataDir, args: ["--durability", options.durability, ...SERVER_ARGS] });
  const killAfterMs = Math.floor((0.1 + random() * 0.9) * options.seconds * 1000);
  let killed = false;
  const until = () => killed;
  const clients = Array.from({ length: options.producers + options.consumers }, () => connect(server.port));
  const producing = clients.slice(0, options.producers).map((c, i) => produce(c, ledger, `p${i}`, seededRandom(random() * 2 ** 32), until));
  const consuming = clients.slice(options.producers).map((c, i) => consume(c, ledger, `c${i}`, seededRandom(random() * 2 ** 32), until));
  await Bun.sleep(killAfterMs);
  await server.kill();
  killed = true;
  await Promise.allSettled([...producing, ...consuming]);
  await closeAll(clients);
  return killAfterMs;
}

/** Final drain on a clean server: consume until every queue is empty, then read the counts. */
async function drain(server: EzraProcess, ledger: Ledger, random: () => number): Promise<number> {
  const redis = connect(server.port);
  // Empty reads in a row that mean "drained"; nacked tasks come straight back, so one is not enough.
  await consume(redis, ledger, "drainer", random, () => false, DRAIN_IDLE_READS);
  let leftOver = 0;
  let done = 0;
  for (const key of QUEUES) {
    const info = (await redis.call("XINFO", "STREAM", key)) as unknown[];
    const count = (name: string) => Number(info[info.indexOf(name) + 1]);
    leftOver += count("ezra-available") + count("ezra-in-flight") + count("ezra-dead");
    done += count("ezra-done");
  }
  ledger.doneAtEnd = done;
  redis.disconnect();
  return leftOver;
}

export async function runTorture(options: TortureOptions): Promise<TortureSummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = Date.now();
  const random = seededRandom(options.seed);
  const ledger = new Ledger();
  const dataDir = tempDir("ezra-torture-");
  try {
    for (let r = 1; r <= options.rounds; r++) {
      const before = { adds: ledger.payloadById.size, acks: ledger.acked.size, deliveries: ledger.deliveriesTotal };
      const killAfterMs = await round(dataDir, options, ledger, random);
      log(
        `round ${r}/${options.rounds}: kill -9 after ${killAfterMs} ms; +${ledger.payloadById.size - before.adds} adds replied, ` +
          `+${ledger.acked.size - before.acks} acked, +${ledger.deliveriesTotal - before.deliveries} deliveries`,
      );
    }
    const server = await startEzra({ dataDir, args: ["--durability", options.durability, ...SERVER_ARGS] });
    const leftOver = await drain(server, ledger, random);
    await server.stop();
    let lost = 0;
    for (const tag of ledger.payloadById.keys()) if (!ledger.deliveries.has(tag)) lost++;
    let duplicates = 0;
    for (const n of ledger.deliveries.values()) duplicates += n - 1;
    const summary: TortureSummary = {
      durability: options.durability,
      seed: options.seed,
      rounds: options.rounds,
      kills: ledger.kills,
      addsSent: ledger.addsSent,
      addsReplied: ledger.payloadById.size,
      acksReplied: ledger.acksReplied,
      nacksReplied: ledger.nacksReplied,
      deliveries: ledger.deliveriesTotal,
      tasksProcessed: ledger.deliveries.size,
      duplicates,
      duplicatesFromKills: Math.max(0, duplicates - ledger.nacksReplied),
      lost,
      deliveredAfterAck: ledger.deliveredAfterAck,
      wrongPayload: ledger.wrongPayload,
      acksRefused: ledger.acksRefused,
      leftOver,
      doneAtEnd: ledger.doneAtEnd,
      ok: false,
      elapsedMs: Date.now() - started,
    };
    summary.ok = lost === 0 && summary.deliveredAfterAck === 0 && summary.wrongPayload === 0 && summary.acksRefused === 0 && leftOver === 0 &&
      summary.doneAtEnd === summary.tasksProcessed;
    return summary;
  } finally {
    removeDir(dataDir);
  }
}

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

if (import.meta.main) {
  const durability = flag("durability", "full");
  if (durability !== "full" && durability !== "normal") {
    console.error("--durability: expected full or normal");
    process.exit(2);
  }
  const summary = await runTorture({
    rounds: Number(flag("rounds", "20")),
    seconds: Number(flag("seconds", "2")),
    durability,
    seed: Number(flag("seed", String(Date.now() % 1_000_000))),
    producers: Number(flag("producers", "4")),
    consumers: Number(flag("consumers", "4")),
  });
  console.log(JSON.stringify(summary, null, 2));
  process.exit(summary.ok ? 0 : 1);
}
