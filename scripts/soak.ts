#!/usr/bin/env bun
// Soak: bounded mixed load (producers, workers that ack/nack/abandon, churned connections that
// drop mid-command) for --seconds, sampling the server's RSS and open fds; reports whether both
// stayed flat, and whether fds returned to the idle count once the load stopped.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import Redis from "ioredis";
import { removeDir, startEzra } from "../test/helpers/servers.ts";
import { seededRandom } from "./torture.ts";

const QUEUE = "soak";
const GROUP = "workers";
const PRODUCERS = 4;
const WORKERS = 4;
const CHURNERS = 4;
const PIPELINE_DEPTH = 16;
// Producers pause while this many tasks wait: memory and disk stay bounded by design.
const BACKLOG_MAX = 5_000;
const ABANDON_PERCENT = 1; // deliveries never acked: their lease runs out (exercises the timer)
const NACK_PERCENT = 2;
// Sample windows compared for flatness: the first quarter is warm-up and not judged.
const WARMUP_FRACTION = 0.25;
const RSS_SLACK_MIB = 8;
const RSS_SLACK_FRACTION = 0.1;
const FD_SLACK = 4;
const SERVER_ARGS = ["--visibility-timeout", "2", "--retention-seconds", "5", "--max-attempts", "5"];

interface Sample {
  t: number;
  rssMiB: number;
  fds: number;
  ops: number;
  connections: number;
  dbMiB: number;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: expected a positive number`);
  return value;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const fileMiB = (path: string) => (existsSync(path) ? statSync(path).size / 1024 / 1024 : 0);

const stats = { ops: 0, connections: 0, errors: 0 };

function connect(port: number): Redis {
  stats.connections++;
  const redis = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
  redis.on("error", () => {});
  return redis;
}

async function producer(port: number, running: () => boolean, random: () => number) {
  const redis = connect(port);
  const pending = new Set<Promise<unknown>>();
  while (running()) {
    if ((await redis.xlen(QUEUE)) > BACKLOG_MAX) {
      await Bun.sleep(50);
      continue;
    }
    for (let i = 0; i < PIPELINE_DEPTH; i++) {
      const fields = random() < 0.1 ? ["p", "x".repeat(4096), "ttl", "3"] : ["p", `task ${random()}`];
      const op = redis.xadd(QUEUE, "*", ...fields).then(() => stats.ops++, () => stats.errors++);
      pending.add(op);
      void op.finally(() => pending.delete(op));
    }
    await Promise.all(pending);
  }
  redis.disconnect();
}

async function worker(port: number, name: string, running: () => boolean, random: () => number) {
  const redis = connect(port);
  while (running()) {
    const reply = (await redis
      .xreadgroup("GROUP", GROUP, name, "COUNT", 32, "BLOCK", 500, "STREAMS", QUEUE, ">")
      .catch(() => null)) as [string, [string, string[]][]][] | null;
    stats.ops++;
    if (!reply) continue;
    const ids = reply[0][1].map(([id]) => id);
    const ack: string[] = [];
    for (const id of ids) {
      const roll = random() * 100;
      if (roll < ABANDON_PERCENT) continue;
      if (roll < ABANDON_PERCENT + NACK_PERCENT) await redis.call("XNACK", QUEUE, GROUP, id, "REASON", "soak").catch(() => stats.errors++);
      else ack.push(id);
    }
    if (ack.length > 0) await redis.xack(QUEUE, GROUP, ...ack).then(() => stats.ops++, () => stats.errors++);
  }
  redis.disconnect();
}

/** Short-lived connections: a handshake, a few commands, then a close, often mid-command. */
async function churner(port: number, running: () => boolean, random: () => number) {
  while (running()) {
    const redis = connect(port);
    try {
      if (random() < 0.5) await redis.call("HELLO", "3");
      await redis.xadd(QUEUE, "*", "p", "churn");
      await redis.call("XINFO", "STREAM", QUEUE);
      stats.ops += 2;
      const roll = random();
      if (roll < 0.3) {
        // Blocked on a queue nobody writes to, then gone: the server must drop the waiter.
        void redis.xreadgroup("GROUP", GROUP, "ghost", "BLOCK", 10_000, "STREAMS", `${QUEUE}:empty`, ">").catch(() => {});
        await Bun.sleep(5);
      } else if (roll < 0.5) {
        // A pipeline cut off before its replies are read.
        for (let i = 0; i < 50; i++) void redis.xadd(QUEUE, "*", "p", "cut").catch(() => {});
      } else if (roll < 0.7) {
        await redis.quit();
        continue;
      }
    } catch {
      stats.errors++;
    }
    redis.disconnect();
  }
}

function verdict(samples: Sample[], key: "rssMiB" | "fds") {
  const judged = samples.slice(Math.floor(samples.length * WARMUP_FRACTION));
  const third = Math.max(1, Math.floor(judged.length / 3));
  const first = judged.slice(0, third).map((s) => s[key]);
  const last = judged.slice(-third).map((s) => s[key]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  if (key === "fds") return { early: Math.max(...first), late: Math.max(...last), flat: Math.max(...last) <= Math.max(...first) + FD_SLACK };
  const early = mean(first);
  const late = mean(last);
  return { early, late, flat: late - early <= Math.max(RSS_SLACK_MIB, early * RSS_SLACK_FRACTION) };
}

const seconds = flag("seconds", 60);
const sampleSeconds = flag("sample-seconds", 5);
const random = seededRandom(flag("seed", 1));
const server = await startEzra({ args: SERVER_ARGS });
const pid = server.proc.pid;
const dbPath = `${server.dataDir}/ezra.db`;
// Warm up first: the first write opens the WAL and a checkpoint thread, which then stay open.
const warm = connect(server.port);
await warm.xadd(QUEUE, "*", "p", "warm-up");
await warm.xreadgroup("GROUP", GROUP, "warm", "STREAMS", QUEUE, ">");
warm.disconnect();
await Bun.sleep(1000);
const idleFds = openFds(pid);
const idleRss = rssMiB(pid);
const started = Date.now();
const running = () => Date.now() - started < seconds * 1000;
const load = [
  ...Array.from({ length: PRODUCERS }, () => producer(server.port, running, seededRandom(random() * 2 ** 32))),
  ...Array.from({ length: WORKERS }, (_, i) => worker(server.port, `w${i}`, running, seededRandom(random() * 2 ** 32))),
  ...Array.from({ length: CHURNERS }, () => churner(server.port, running, seededRandom(random() * 2 ** 32))),
];
const samples: Sample[] = [];
console.log("    t(s)   rss(MiB)   fds   ops/s    conns   db+wal(MiB)");
let lastOps = 0;
while (running()) {
  await Bun.sleep(sampleSeconds * 1000);
  const s: Sample = {
    t: Math.round((Date.now() - started) / 1000),
    rssMiB: rssMiB(pid),
    fds: openFds(pid),
    ops: Math.round((stats.ops - lastOps) / sampleSeconds),
    connections: stats.connections,
    dbMiB: fileMiB(dbPath) + fileMiB(`${dbPath}-wal`),
  };
  lastOps = stats.ops;
  samples.push(s);
  console.log(
    `${String(s.t).padStart(8)} ${s.rssMiB.toFixed(1).padStart(10)} ${String(s.fds).padStart(5)} ${String(s.ops).padStart(7)} ${String(s.connections).padStart(8)} ${s.dbMiB.toFixed(1).padStart(13)}`,
  );
}
await Promise.all(load);
await Bun.sleep(1000); // let the server see every close
const fdsAfter = openFds(pid);
const summary = {
  seconds,
  idle: { rssMiB: Number(idleRss.toFixed(1)), fds: idleFds },
  rss: verdict(samples, "rssMiB"),
  fds: verdict(samples, "fds"),
  fdsAfterLoad: fdsAfter,
  fdsBackToIdle: fdsAfter === idleFds,
  totalOps: stats.ops,
  connectionsOpened: stats.connections,
  clientErrors: stats.errors,
  serverAlive: server.proc.exitCode === null,
};
const exitCode = await server.stop();
removeDir(server.dataDir);
const ok = summary.rss.flat && summary.fds.flat && summary.fdsBackToIdle && summary.serverAlive && exitCode === 0;
console.log(JSON.stringify({ ...summary, serverExitCode: exitCode, ok }, null, 2));
process.exit(ok ? 0 : 1);
