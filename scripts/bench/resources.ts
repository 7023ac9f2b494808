// Resource measures: RSS of an idle server, per idle connection and per waiting task, CPU of
// an idle server holding blocked readers, and ezra's start-up time and bytes per task with a big
// database of tasks in every state.
import { statSync } from "node:fs";
import { join } from "node:path";
import { RespClient } from "./client.ts";
import { cpuSeconds, type RunningServer, removeDir, rssBytes, startServer, type TargetSpec, tempDir } from "./servers.ts";
import { claimMany, createGroup, fill } from "./workload.ts";

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

/** RSS idle, with `connections` idle connections, then (connections closed) with `tasks` tasks waiting in a group. */
export async function memory(server: RunningServer, connections: number, tasks: number, payloadBytes: number, deadlineMs: number) {
  await Bun.sleep(SETTLE_MS);
  const idleRssBytes = rssBytes(server.pid);
  const clients = await openIdle(server.port, connections);
  let rssWithConnectionsBytes: number;
  try {
    await Bun.sleep(SETTLE_MS);
    rssWithConnectionsBytes = rssBytes(server.pid);
  } finally {
    for (const c of clients) c.close();
  }
  await Bun.sleep(SETTLE_MS);
  // The baseline for tasks is taken after the connections closed: memory they held may not go back.
  const rssBeforeTasksBytes = rssBytes(server.pid);
  await createGroup(server.port, "memory");
  await fill(server.port, "memory", tasks, payloadBytes, deadlineMs);
  await Bun.sleep(SETTLE_MS);
  const rssWithTasksBytes = rssBytes(server.pid);
  return {
    idleRssBytes,
    connections,
    rssWithConnectionsBytes,
    bytesPerConnection: Math.round((rssWithConnectionsBytes - idleRssBytes) / connections),
    waitingTasks: tasks,
    payloadBytes,
    rssBeforeTasksBytes,
    rssWithTasksBytes,
    bytesPerWaitingTask: Math.round((rssWithTasksBytes - rssBeforeTasksBytes) / tasks),
  };
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

/** Shares of a startup database that are claimed (in flight) and acked (done); the rest wait. */
const IN_FLIGHT_SHARE = 0.1;
const DONE_SHARE = 0.1;

/**
 * Builds a data dir of `tasks` tasks in mixed states through `target` itself, over the protocol
 * (so the bench needs nothing from src/): fill queue `work`, then claim and ack 10% (done, kept
 * by the 1 h retention), then claim 10% more and leave them unacked (in flight); the rest wait.
 */
export async function buildDatabase(target: TargetSpec, tasks: number, payloadBytes: number, deadlineMs: number) {
  const dataDir = tempDir("ezra-bench-startup-");
  const began = performance.now();
  const done = Math.floor(tasks * DONE_SHARE);
  const inFlight = Math.floor(tasks * IN_FLIGHT_SHARE);
  const server = await startServer(target, dataDir);
  try {
    await createGroup(server.port, "work");
    await fill(server.port, "work", tasks, payloadBytes, deadlineMs);
    // Done first: claims after the in-flight ones could get back in-flight tasks whose lease ran out.
    await claimMany(server.port, "work", done, payloadBytes, true, "done");
    await claimMany(server.port, "work", inFlight, payloadBytes, false, "worker");
  } finally {
    await server.stop();
  }
  return { dataDir, buildSeconds: (performance.now() - began) / 1000, waiting: tasks - done - inFlight, inFlight, done };
}

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** ezra's time from spawn to its first PONG, with an empty database and with the big one. */
export async function startup(target: TargetSpec, tasks: number, payloadBytes: number, deadlineMs: number) {
  const empty = await startServer(target);
  const emptyStartMs = empty.startMs;
  await empty.stop();
  const { dataDir, buildSeconds, waiting, inFlight, done } = await buildDatabase(target, tasks, payloadBytes, deadlineMs);
  const dbBytes = fileBytes(join(dataDir, "ezra.db")) + fileBytes(join(dataDir, "ezra.db-wal"));
  try {
    const big = await startServer(target, dataDir);
    const startMs = big.startMs;
    await big.stop();
    return {
      tasks,
      waiting,
      inFlight,
      done,
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
