// Resource measures: RSS of an idle server and per idle connection, CPU of an idle server
// holding blocked readers, and ezra's start-up time and bytes per task with a big database.
import { statSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "../../src/queue/engine.ts";
import { openStorage } from "../../src/store/open.ts";
import { RespClient } from "./client.ts";
import { cpuSeconds, type RunningServer, removeDir, rssBytes, startServer, type TargetSpec, tempDir } from "./servers.ts";

/** Connections opened at once while building up the idle-connection count (stays under listen backlogs). */
const CONNECT_BATCH = 200;
const SETTLE_MS = 1000;

/** Opens `n` connections that each did one PING (a client handshake), then left idle. */
async function openIdle(port: number, n: number): Promise<RespClient[]> {
  const clients: RespClient[] = [];
  try {
    while (clients.length < n) {
      const batch = Math.min(CONNECT_BATCH, n - clients.length);
      const opened = await Promise.all(Array.from({ length: batch }, () => RespClient.connect(port)));
      clients.push(...opened);
      const pongs = await Promise.all(opened.map((c) => c.call(["PING"])));
      const bad = pongs.find((p) => p !== "PONG");
      if (bad !== undefined) throw new Error(`connection ${clients.length}: PING answered ${JSON.stringify(bad)}`);
    }
  } catch (err) {
    for (const c of clients) c.close();
    throw err;
  }
  return clients;
}

export async function memory(server: RunningServer, connections: number) {
  await Bun.sleep(SETTLE_MS);
  const idleRssBytes = rssBytes(server.pid);
  const clients = await openIdle(server.port, connections);
  try {
    await Bun.sleep(SETTLE_MS);
    const rssWithConnectionsBytes = rssBytes(server.pid);
    return {
      idleRssBytes,
      connections,
      rssWithConnectionsBytes,
      bytesPerConnection: Math.round((rssWithConnectionsBytes - idleRssBytes) / connections),
    };
  } finally {
    for (const c of clients) c.close();
  }
}

/** CPU seconds the server burns over `seconds` while `clients` readers sit in XREADGROUP BLOCK 0. */
export async function idleCpu(server: RunningServer, clients: number, seconds: number) {
  const queue = "idle";
  const admin = await RespClient.connect(server.port);
  await admin.ok(["XGROUP", "CREATE", queue, "g", "$", "MKSTREAM"]);
  admin.close();
  const readers = await Promise.all(Array.from({ length: clients }, () => RespClient.connect(server.port)));
  try {
    // Nothing is ever pushed: these replies only come when the connection closes.
    readers.forEach((c, i) => c.call(["XREADGROUP", "GROUP", "g", `c${i}`, "BLOCK", "0", "STREAMS", queue, ">"]));
    await Bun.sleep(SETTLE_MS);
    const before = cpuSeconds(server.pid);
    await Bun.sleep(seconds * 1000);
    const cpu = cpuSeconds(server.pid) - before;
    return { blockedClients: clients, seconds, cpuSeconds: Number(cpu.toFixed(3)) };
  } finally {
    for (const c of readers) c.close();
  }
}

const BUILD_BATCH = 50_000;

/**
 * Builds a database of `tasks` tasks (`inFlight` of them claimed) through ezra's own engine in
 * this process, so every row is a valid ezra task; returns the data dir.
 */
export function buildDatabase(tasks: number, inFlight: number, payloadBytes: number): { dataDir: string; buildSeconds: number } {
  const dataDir = tempDir("ezra-bench-startup-");
  const began = performance.now();
  const engine = new Engine({
    driver: openStorage({ dataDir, durability: "normal" }),
    visibilityTimeoutMs: 3_600_000,
    maxAttempts: 3,
    retentionMs: 3_600_000,
    blockedClientsMax: 1,
  });
  const fields = [new TextEncoder().encode("payload"), new Uint8Array(payloadBytes).fill(120)];
  const inTurn = (work: () => void) => {
    engine.turn.enter();
    work();
    engine.turn.finish();
    if (engine.turn.failure) throw engine.turn.failure;
  };
  for (let done = 0; done < tasks; done += BUILD_BATCH) {
    inTurn(() => {
      for (let i = done; i < Math.min(tasks, done + BUILD_BATCH); i++) engine.push("work", { kind: "auto" }, fields);
    });
  }
  for (let claimed = 0; claimed < inFlight; claimed += BUILD_BATCH) {
    inTurn(() => engine.claim("work", "g", "worker", Math.min(BUILD_BATCH, inFlight - claimed), false));
  }
  engine.close();
  return { dataDir, buildSeconds: (performance.now() - began) / 1000 };
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** ezra's time from spawn to its first PONG, with an empty database and with the big one. */
export async function startup(target: TargetSpec, tasks: number, inFlight: number, payloadBytes: number) {
  const empty = await startServer(target);
  const emptyStartMs = empty.startMs;
  await empty.stop();
  const { dataDir, buildSeconds } = buildDatabase(tasks, inFlight, payloadBytes);
  const dbBytes = fileBytes(join(dataDir, "ezra.db")) + fileBytes(join(dataDir, "ezra.db-wal"));
  try {
    const big = await startServer(target, dataDir);
    const startMs = big.startMs;
    await big.stop();
    return {
      tasks,
      inFlight,
      payloadBytes,
      buildSeconds: Number(buildSeconds.toFixed(1)),
      emptyStartMs: Math.round(emptyStartMs),
      startMs: Math.round(startMs),
      dbBytes,
      dbBytesPerTask: Math.round(dbBytes / tasks),
    };
  } finally {
    removeDir(dataDir);
  }
}
