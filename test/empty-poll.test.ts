// An empty poll writes nothing: idle consumers polling (XREADGROUP finding no task, XPENDING,
// XINFO, XLEN, XRANGE) leave ezra.db's data_version and the WAL's bytes unchanged, while
// XINFO's seen-times still advance and reach the disk with the next write.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { consumerInfos } from "../src/queue/groups.ts";
import { Engine } from "../src/queue/engine.ts";
import { openStorage } from "../src/store/open.ts";
import { parseAddId } from "../src/queue/ids.ts";
import { connectPlain, type Plain, type PlainClient } from "./helpers/plain-client.ts";
import { type EzraProcess, removeDir, startEzra, tempDir } from "./helpers/servers.ts";

const POLLS = 200;
const dirs: string[] = [];
const servers: EzraProcess[] = [];
const clients: PlainClient[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.kill();
  for (const d of dirs) removeDir(d);
});

async function start(dataDir: string): Promise<{ server: EzraProcess; call: PlainClient["call"] }> {
  const server = await startEzra({ dataDir });
  servers.push(server);
  const client = await connectPlain(server.port);
  clients.push(client);
  return { server, call: client.call };
}

/** The server's database as another connection sees it: data_version moves on each commit by ezra. */
function watchDisk(dataDir: string) {
  const db = new Database(join(dataDir, "ezra.db"), { readonly: true });
  const wal = join(dataDir, "ezra.db-wal");
  return {
    dataVersion: () => (db.query("PRAGMA data_version").get() as { data_version: number }).data_version,
    walBytes: () => (existsSync(wal) ? readFileSync(wal) : Buffer.alloc(0)),
    close: () => db.close(),
  };
}

/** A RESP2 flat (name, value, ...) list as an object. */
function asObject(reply: Plain): Record<string, Plain> {
  const list = reply as Plain[];
  const out: Record<string, Plain> = {};
  for (let i = 0; i < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

/** XINFO STREAM FULL's seen-time of each consumer of group g. */
async function seenTimes(call: PlainClient["call"], key: string): Promise<Record<string, number>> {
  const full = asObject(await call("XINFO", "STREAM", key, "FULL"));
  const group = asObject((full.groups as Plain[])[0]);
  const out: Record<string, number> = {};
  for (const c of (group.consumers as Plain[]).map(asObject)) out[String(c.name)] = c["seen-time"] as number;
  return out;
}

/** The ids an XREADGROUP reply hands out (entries also carry attempts and max_attempts). */
const idsOf = (reply: Plain) => (reply === null ? null : ((reply as Plain[][])[0][1] as Plain[][]).map((e) => e[0]));

const poll = (call: PlainClient["call"], consumer: string, from = ">") =>
  call("XREADGROUP", "GROUP", "g", consumer, "COUNT", 1, "STREAMS", "q", from);

test("idle consumers polling, XPENDING, XINFO, XLEN and XRANGE commit nothing; an XADD does", async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const { server, call } = await start(dataDir);
  const other = await connectPlain(server.port);
  clients.push(other);
  // Setup writes: the queue, one task, the group and both consumers (c1 holds the task, so
  // XPENDING has something to show and '>' finds nothing).
  await call("XADD", "q", "1-0", "n", "1");
  expect(idsOf(await poll(call, "c1"))).toEqual(["1-0"]);
  expect(await poll(other.call, "c2")).toBeNull();
  const disk = watchDisk(dataDir);
  try {
    const version = disk.dataVersion();
    const wal = disk.walBytes();
    expect(wal.length).toBeGreaterThan(0);
    const reads = async (c: PlainClient["call"], consumer: string) => {
      for (let i = 0; i < POLLS / 2; i++) expect(await poll(c, consumer)).toBeNull();
    };
    // Both consumers at once, so their polls also share turns.
    await Promise.all([reads(call, "c1"), reads(other.call, "c2")]);
    expect(idsOf(await poll(call, "c1", "0"))).toEqual(["1-0"]);
    expect(((await call("XPENDING", "q", "g")) as Plain[])[0]).toBe(1);
    expect(((await call("XPENDING", "q", "g", "-", "+", 10)) as Plain[]).length).toBe(1);
    expect(asObject(await call("XINFO", "STREAM", "q")).length).toBe(1);
    expect(asObject(await call("XINFO", "STREAM", "q", "FULL")).length).toBe(1);
    expect(((await call("XINFO", "GROUPS", "q")) as Plain[]).length).toBe(1);
    expect(((await call("XINFO", "CONSUMERS", "q", "g")) as Plain[]).length).toBe(2);
    expect(await call("XLEN", "q")).toBe(0);
    expect(((await call("XRANGE", "q", "-", "+")) as Plain[]).length).toBe(1);
    expect(disk.dataVersion()).toBe(version);
    expect(disk.walBytes().equals(wal)).toBe(true);
    // The check can fail: one write moves both.
    await call("XADD", "q", "*", "n", "2");
    expect(disk.dataVersion()).not.toBe(version);
    expect(disk.walBytes().equals(wal)).toBe(false);
  } finally {
    disk.close();
  }
});

test("seen-times advance with polls, reach the disk with the next write, and survive a crash", async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  let { server, call } = await start(dataDir);
  await call("XGROUP", "CREATE", "q", "g", "$", "MKSTREAM");
  expect(await poll(call, "w")).toBeNull(); // creates the consumer: a write
  const created = (await seenTimes(call, "q")).w;
  await Bun.sleep(20);
  const before = Date.now();
  expect(await poll(call, "w")).toBeNull();
  const seen = (await seenTimes(call, "q")).w;
  expect(seen).toBeGreaterThanOrEqual(before);
  expect(seen).toBeGreaterThan(created);
  // XINFO CONSUMERS' idle counts from that poll (same clock: the server runs on this machine).
  const [consumer] = ((await call("XINFO", "CONSUMERS", "q", "g")) as Plain[]).map(asObject);
  expect(consumer.idle as number).toBeLessThanOrEqual(Date.now() - before);

  // A later write carries the poll's seen-time to disk: kill -9 keeps it.
  await call("XADD", "q", "*", "n", "1");
  await server.kill();
  ({ server, call } = await start(dataDir));
  expect((await seenTimes(call, "q")).w).toBe(seen);

  // Polls alone stay in memory: a crash before any write shows the older seen-time (documented).
  await Bun.sleep(20);
  const lost = Date.now();
  const [id] = idsOf(await poll(call, "w")) as string[];
  expect(await call("XACK", "q", "g", id)).toBe(1);
  await Bun.sleep(20);
  expect(await poll(call, "w")).toBeNull();
  const polledOnly = (await seenTimes(call, "q")).w;
  expect(polledOnly).toBeGreaterThan(lost);
  await server.kill();
  ({ server, call } = await start(dataDir));
  const afterCrash = (await seenTimes(call, "q")).w;
  expect(afterCrash).toBeGreaterThanOrEqual(lost);
  expect(afterCrash).toBeLessThan(polledOnly);

  // A clean shutdown saves what polls left in memory.
  await Bun.sleep(20);
  expect(await poll(call, "w")).toBeNull();
  const polled = (await seenTimes(call, "q")).w;
  expect(polled).toBeGreaterThan(afterCrash);
  expect(await server.stop()).toBe(0);
  ({ server, call } = await start(dataDir));
  expect((await seenTimes(call, "q")).w).toBe(polled);
});

test("DELCONSUMER, XGROUP DESTROY and DEL forget the consumer: its next poll records it again", async () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const { call } = await start(dataDir);
  const names = async () => ((await call("XINFO", "CONSUMERS", "q", "g")) as Plain[]).map((c) => asObject(c).name);
  await call("XGROUP", "CREATE", "q", "g", "$", "MKSTREAM");
  await poll(call, "w");
  await poll(call, "w");
  expect(await call("XGROUP", "DELCONSUMER", "q", "g", "w")).toBe(0);
  expect(await names()).toEqual([]);
  await poll(call, "w");
  expect(await names()).toEqual(["w"]);
  expect(await call("XGROUP", "DESTROY", "q", "g")).toBe(1);
  await poll(call, "w"); // re-creates the group (ezra: XREADGROUP creates what it needs)
  expect(await names()).toEqual(["w"]);
  expect(await call("DEL", "q")).toBe(1);
  await poll(call, "w");
  expect(await names()).toEqual(["w"]);
});

test("a rolled-back turn keeps polls' seen-times and forgets consumers it created", () => {
  const dataDir = tempDir();
  dirs.push(dataDir);
  let clock = 1_000_000;
  const options = {
    visibilityTimeoutMs: 30_000,
    maxAttempts: 3,
    retentionMs: 3_600_000,
    blockedClientsMax: 10,
    now: () => clock,
  };
  let engine = new Engine({ ...options, driver: openStorage({ dataDir, durability: "normal" }) });
  let failNext = false;
  // Registered after the engine's own hook: the seen-times are saved, then the COMMIT "fails".
  engine.turn.beforeCommit(() => {
    if (failNext) {
      failNext = false;
      throw new Error("simulated commit failure");
    }
  });
  const turn = (fn: () => void) => {
    engine.turn.enter();
    fn();
    engine.turn.finish();
  };
  const read = (consumer: string) => engine.deliverEach({ keys: ["q"], group: "g", consumer, count: 1, noack: false });
  const seen = () => Object.fromEntries(consumerInfos(engine, "q", "g").map((c) => [c.name, c.seenAt]));
  const push = () => engine.push("q", parseAddId("*")!, [new TextEncoder().encode("n")]);
  const stored = () => Object.fromEntries(engine.driver.consumers("q", "g").map((c) => [c.name, c.seenAt]));
  try {
    turn(() => read("a"));
    expect(seen()).toEqual({ a: 1_000_000 });
    clock += 5;
    failNext = true;
    turn(() => {
      read("a"); // seen-time in memory
      read("b"); // creates b: rolled back below
      push();
    });
    expect(seen()).toEqual({ a: 1_000_005 });
    expect(stored()).toEqual({ a: 1_000_000 });
    clock += 5;
    turn(() => read("a")); // polls only: nothing saved
    expect(seen()).toEqual({ a: 1_000_010 });
    expect(stored()).toEqual({ a: 1_000_000 });
    turn(() => read("b")); // creates b, a write: a's seen-time is saved with it
    expect(seen()).toEqual({ a: 1_000_010, b: 1_000_010 });
    expect(stored()).toEqual({ a: 1_000_010, b: 1_000_010 });
    engine.close();
    engine = new Engine({ ...options, driver: openStorage({ dataDir, durability: "normal" }) });
    expect(seen()).toEqual({ a: 1_000_010, b: 1_000_010 });
  } finally {
    engine.close();
  }
});
