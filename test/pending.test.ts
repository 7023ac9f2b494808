// XPENDING, XCLAIM and XAUTOCLAIM against a real ezra server: what is pending per group and
// consumer, taking tasks over, the heartbeat (re-claiming your own task), and the index plans.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { connectPlain, type PlainClient } from "./helpers/plain-client.ts";
import { type EzraProcess, removeDir, startEzra } from "./helpers/servers.ts";

let ezra: EzraProcess;
let r: PlainClient;
let db: Database;

beforeAll(async () => {
  // Claims written in their turn, so the rows these tests read show every delivery at once.
  ezra = await startEzra({ args: ["--claim-write-delay", "0"] });
  r = await connectPlain(ezra.port);
  db = new Database(join(ezra.dataDir, "ezra.db"), { readonly: true });
});

afterAll(async () => {
  db.close();
  r.close();
  expect(await ezra.stop()).toBe(0);
  removeDir(ezra.dataDir);
});

const call = (...args: (string | number)[]) => r.call(...args);
type Row = [string, string, number, number];
/** Longest wait for the lease timer in the one test that waits for it. */
const LEASE_WAIT_MS_MAX = 10_000;

async function seed(key: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await call("XADD", key, `${i}-0`, "n", String(i));
}

// A delivery is answered before its turn commits; the PING's reply comes after that COMMIT,
// so the file read next shows the delivery.
async function pop(key: string, consumer: string, count: number, group = "g") {
  const reply = await call("XREADGROUP", "GROUP", group, consumer, "COUNT", count, "STREAMS", key, ">");
  await call("PING");
  return reply;
}

function task(key: string, id: string) {
  const [ms, seq] = id.split("-").map(Number);
  return db.query("SELECT status, attempts, worker, grp, lease_until, delivered_at FROM tasks WHERE queue = ? AND ms = ? AND seq = ?").get(key, ms, seq) as {
    status: string; attempts: number; worker: string; grp: string; lease_until: number | null; delivered_at: number;
  };
}

test("XPENDING summary: count, smallest and greatest id, consumers by name with counts", async () => {
  await call("XGROUP", "CREATE", "ps", "g", "0", "MKSTREAM");
  expect(await call("XPENDING", "ps", "g")).toEqual([0, null, null, null]);
  expect((await r.raw("XPENDING", "ps", "g")).type).toBe("array");
  await seed("ps", 5);
  await pop("ps", "bob", 2);
  await pop("ps", "alice", 1);
  expect(await call("XPENDING", "ps", "g")).toEqual([3, "1-0", "3-0", [["alice", "1"], ["bob", "2"]]]);
  await call("XACK", "ps", "g", "1-0", "3-0");
  expect(await call("XPENDING", "ps", "g")).toEqual([1, "2-0", "2-0", [["bob", "1"]]]);
});

test("XPENDING extended: range, exclusive bounds, COUNT, consumer, IDLE", async () => {
  await seed("pe", 4);
  await pop("pe", "c1", 2);
  await pop("pe", "c2", 2);
  const rows = (await call("XPENDING", "pe", "g", "-", "+", 10)) as Row[];
  expect(rows.map(([id, c, , n]) => [id, c, n])).toEqual([["1-0", "c1", 1], ["2-0", "c1", 1], ["3-0", "c2", 1], ["4-0", "c2", 1]]);
  for (const [, , idle] of rows) expect(idle).toBeGreaterThanOrEqual(0);
  const idsOf = async (...args: (string | number)[]) => ((await call("XPENDING", "pe", "g", ...args)) as Row[]).map(([id]) => id);
  expect(await idsOf("(1-0", "(4-0", 10)).toEqual(["2-0", "3-0"]);
  expect(await idsOf("2", "3", 10)).toEqual(["2-0", "3-0"]);
  expect(await idsOf("-", "+", 3)).toEqual(["1-0", "2-0", "3-0"]);
  expect(await idsOf("-", "+", 0)).toEqual([]);
  expect(await idsOf("-", "+", -5)).toEqual([]);
  expect(await idsOf("-", "+", 10, "c2")).toEqual(["3-0", "4-0"]);
  expect(await idsOf("-", "+", 10, "nobody")).toEqual([]);
  expect(await idsOf("IDLE", 0, "-", "+", 10, "c1")).toEqual(["1-0", "2-0"]);
  // Nothing has been idle for a day.
  expect(await idsOf("IDLE", 86_400_000, "-", "+", 10)).toEqual([]);
  // Make 4-0 look idle for a day, keeping its holder: only it passes the IDLE filter.
  await call("XCLAIM", "pe", "g", "c2", 0, "4-0", "IDLE", 86_400_000, "JUSTID");
  expect(await idsOf("IDLE", 3_600_000, "-", "+", 10)).toEqual(["4-0"]);
});

test("XPENDING lists what was claimed through that group only", async () => {
  await seed("pg", 2);
  await pop("pg", "c", 1, "g1");
  await pop("pg", "c", 1, "g2");
  expect(await call("XPENDING", "pg", "g1")).toEqual([1, "1-0", "1-0", [["c", "1"]]]);
  expect(await call("XPENDING", "pg", "g2")).toEqual([1, "2-0", "2-0", [["c", "1"]]]);
});

test("XPENDING errors", async () => {
  await seed("px", 1);
  await pop("px", "c", 1);
  await expect(call("XPENDING", "px", "nope")).rejects.toThrow("NOGROUP No such key 'px' or consumer group 'nope'");
  await expect(call("XPENDING", "missing", "g")).rejects.toThrow("NOGROUP No such key 'missing' or consumer group 'g'");
  await expect(call("XPENDING", "px", "g", "-", "+")).rejects.toThrow("ERR syntax error");
  await expect(call("XPENDING", "px", "g", "IDLE", 5, "-", "+")).rejects.toThrow("ERR syntax error");
  await expect(call("XPENDING", "px", "g", "-", "+", "x")).rejects.toThrow("ERR value is not an integer or out of range");
  await expect(call("XPENDING", "px", "g", "IDLE", "x", "-", "+", 1)).rejects.toThrow("ERR value is not an integer or out of range");
  await expect(call("XPENDING", "px", "g", "bad", "+", 1)).rejects.toThrow("ERR Invalid stream ID specified as stream command argument");
  await expect(call("XPENDING", "px", "g", "-", "(0-0", 1)).rejects.toThrow("ERR invalid end ID for the interval");
  await expect(call("XPENDING", "px")).rejects.toThrow("ERR wrong number of arguments for 'xpending' command");
});

test("XCLAIM: another consumer takes an idle task over and it counts as a delivery", async () => {
  await seed("ct", 2);
  await pop("ct", "crashed", 2);
  // min-idle not reached: nothing moves.
  expect(await call("XCLAIM", "ct", "g", "rescuer", 3_600_000, "1-0")).toEqual([]);
  const claimed = await call("XCLAIM", "ct", "g", "rescuer", 0, "1-0", "2-0", "9-0");
  expect(claimed).toEqual([
    ["1-0", ["n", "1", "attempts", "2", "max_attempts", "3"]],
    ["2-0", ["n", "2", "attempts", "2", "max_attempts", "3"]],
  ]);
  expect(task("ct", "1-0")).toMatchObject({ status: "in_flight", worker: "rescuer", grp: "g", attempts: 2 });
  // The rescuer now shows up as a consumer with both tasks.
  expect(await call("XPENDING", "ct", "g")).toEqual([2, "1-0", "2-0", [["rescuer", "2"]]]);
  // JUSTID replies ids and counts no delivery; RETRYCOUNT sets the count.
  expect(await call("XCLAIM", "ct", "g", "third", 0, "1-0", "JUSTID")).toEqual(["1-0"]);
  expect(task("ct", "1-0").attempts).toBe(2);
  expect(await call("XCLAIM", "ct", "g", "third", 0, "2-0", "RETRYCOUNT", 0, "JUSTID")).toEqual(["2-0"]);
  expect(task("ct", "2-0")).toMatchObject({ attempts: 0, worker: "third" });
});

test("XCLAIM by the holder is a heartbeat: a fresh lease, no delivery counted", async () => {
  await seed("hb", 1);
  await pop("hb", "w", 1);
  const before = task("hb", "1-0");
  await Bun.sleep(5); // let the clock move so the new lease is later
  expect(await call("XCLAIM", "hb", "g", "w", 0, "1-0")).toEqual([["1-0", ["n", "1", "attempts", "1", "max_attempts", "3"]]]);
  const after = task("hb", "1-0");
  expect(after.attempts).toBe(1);
  expect(after.lease_until as number).toBeGreaterThan(before.lease_until as number);
  expect(after.delivered_at).toBeGreaterThan(before.delivered_at);
});

test("XCLAIM IDLE and TIME set the reported idle time; the lease is renewed anyway", async () => {
  await seed("ci", 2);
  await pop("ci", "w", 2);
  await call("XCLAIM", "ci", "g", "w", 0, "1-0", "IDLE", 5_000_000, "JUSTID");
  await call("XCLAIM", "ci", "g", "w", 0, "2-0", "TIME", 1000, "JUSTID");
  const rows = (await call("XPENDING", "ci", "g", "-", "+", 10)) as Row[];
  expect(rows[0][2]).toBeGreaterThanOrEqual(5_000_000);
  expect(task("ci", "2-0").delivered_at).toBe(1000);
  expect(task("ci", "2-0").lease_until as number).toBeGreaterThan(Date.now());
  // A time in the future (negative IDLE) becomes now, as in Redis.
  await call("XCLAIM", "ci", "g", "w", 0, "2-0", "IDLE", -100_000, "JUSTID");
  expect(task("ci", "2-0").delivered_at).toBeLessThanOrEqual(Date.now());
});

test("XCLAIM FORCE takes a task nobody holds, or one held through another group; never a done task", async () => {
  await seed("cf", 3);
  await call("XGROUP", "CREATE", "cf", "g", "0");
  expect(await call("XCLAIM", "cf", "g", "w", 0, "1-0")).toEqual([]);
  expect(await call("XCLAIM", "cf", "g", "w", 0, "1-0", "FORCE")).toEqual([["1-0", ["n", "1", "attempts", "1", "max_attempts", "3"]]]);
  expect(task("cf", "1-0")).toMatchObject({ status: "in_flight", worker: "w", grp: "g" });
  expect(await call("XLEN", "cf")).toBe(2);
  await pop("cf", "other", 1, "g2");
  expect(await call("XCLAIM", "cf", "g", "w", 0, "2-0", "JUSTID")).toEqual([]);
  expect(await call("XCLAIM", "cf", "g", "w", 0, "2-0", "FORCE", "JUSTID")).toEqual(["2-0"]);
  expect(task("cf", "2-0")).toMatchObject({ worker: "w", grp: "g" });
  await call("XACK", "cf", "g", "1-0");
  expect(await call("XCLAIM", "cf", "g", "w", 0, "1-0", "FORCE")).toEqual([]);
  expect(task("cf", "1-0").status).toBe("done");
});

test("XCLAIM on a dead view hands out dead letters without counting a delivery", async () => {
  await call("XADD", "cd", "1-0", "n", "1", "max_attempts", "1");
  await pop("cd", "w", 1);
  await call("XNACK", "cd", "g", "1-0");
  expect(await call("XCLAIM", "cd::dead", "g", "medic", 0, "1-0", "FORCE")).toEqual([["1-0", ["n", "1", "attempts", "1", "max_attempts", "1"]]]);
  expect(await call("XPENDING", "cd::dead", "g")).toEqual([1, "1-0", "1-0", [["medic", "1"]]]);
  expect(await call("XCLAIM", "cd::dead", "g", "medic2", 0, "1-0", "JUSTID")).toEqual(["1-0"]);
  expect(task("cd::dead", "1-0")).toMatchObject({ attempts: 1, worker: "medic2" });
});

test("XCLAIM errors, in Redis's order: the group first, then min-idle, ids, options", async () => {
  await seed("ce", 1);
  await pop("ce", "w", 1);
  await expect(call("XCLAIM", "ce", "nope", "c", "x", "1-0")).rejects.toThrow("NOGROUP No such key 'ce' or consumer group 'nope'");
  await expect(call("XCLAIM", "ce", "g", "c", "x", "1-0")).rejects.toThrow("ERR Invalid min-idle-time argument for XCLAIM");
  await expect(call("XCLAIM", "ce", "g", "c", 0, "abc")).rejects.toThrow("ERR Unrecognized XCLAIM option 'abc'");
  await expect(call("XCLAIM", "ce", "g", "c", 0, "1-0", "JUSTID", "2-0")).rejects.toThrow("ERR Unrecognized XCLAIM option '2-0'");
  await expect(call("XCLAIM", "ce", "g", "c", 0, "1-0", "IDLE")).rejects.toThrow("ERR Unrecognized XCLAIM option 'IDLE'");
  await expect(call("XCLAIM", "ce", "g", "c", 0, "1-0", "IDLE", "x")).rejects.toThrow("ERR Invalid IDLE option argument for XCLAIM");
  await expect(call("XCLAIM", "ce", "g", "c", 0, "1-0", "TIME", "x")).rejects.toThrow("ERR Invalid TIME option argument for XCLAIM");
  await expect(call("XCLAIM", "ce", "g", "c", 0, "1-0", "RETRYCOUNT", "x")).rejects.toThrow("ERR Invalid RETRYCOUNT option argument for XCLAIM");
  await expect(call("XCLAIM", "ce", "g", "c", 0, "1-0", "RETRYCOUNT", -1)).rejects.toThrow("ERR Invalid RETRYCOUNT option argument for XCLAIM");
  await expect(call("XCLAIM", "ce", "g", "c", 0, "1-0", "LASTID", "x")).rejects.toThrow("ERR Invalid stream ID specified as stream command argument");
  // Nothing above moved the task.
  expect(task("ce", "1-0")).toMatchObject({ worker: "w", attempts: 1 });
  expect(await call("XCLAIM", "ce", "g", "w", 0, "1-0", "LASTID", "5-0", "JUSTID")).toEqual(["1-0"]);
});

test("a renewed lease reaches the timer: a heartbeat with a shorter timeout still expires", async () => {
  await seed("lt", 1);
  await pop("lt", "w", 1); // leased for the default 30 s
  await call("EZRA", "CONFIG", "SET", "lt", "visibility_timeout", "0.2");
  await call("XCLAIM", "lt", "g", "w", 0, "1-0", "JUSTID"); // now leased for 0.2 s
  const deadline = Date.now() + LEASE_WAIT_MS_MAX;
  while ((await call("XLEN", "lt")) !== 1 && Date.now() < deadline) await Bun.sleep(20);
  expect(await call("XLEN", "lt")).toBe(1);
  expect(task("lt", "1-0")).toMatchObject({ status: "available", attempts: 1 });
});

test("XAUTOCLAIM: the cursor reply, COUNT, JUSTID, min-idle", async () => {
  await seed("ac", 5);
  await pop("ac", "crashed", 5);
  expect(await call("XAUTOCLAIM", "ac", "g", "w", 3_600_000, "0")).toEqual(["0-0", [], []]);
  const first = await call("XAUTOCLAIM", "ac", "g", "w", 0, "0", "COUNT", 2);
  expect(first).toEqual([
    "3-0",
    [["1-0", ["n", "1", "attempts", "2", "max_attempts", "3"]], ["2-0", ["n", "2", "attempts", "2", "max_attempts", "3"]]],
    [],
  ]);
  expect(await call("XAUTOCLAIM", "ac", "g", "w", 0, "3-0", "COUNT", 2, "JUSTID")).toEqual(["5-0", ["3-0", "4-0"], []]);
  expect(await call("XAUTOCLAIM", "ac", "g", "w", 0, "(4-0", "JUSTID")).toEqual(["0-0", ["5-0"], []]);
  // JUSTID counted no delivery; the holder re-claiming (heartbeat) counted none either.
  expect(task("ac", "3-0").attempts).toBe(1);
  expect(await call("XAUTOCLAIM", "ac", "g", "w", 0, "-")).toEqual(["0-0", expect.any(Array), []]);
  expect(task("ac", "1-0").attempts).toBe(2);
  expect(await call("XPENDING", "ac", "g")).toEqual([5, "1-0", "5-0", [["w", "5"]]]);
});

test("XAUTOCLAIM looks at COUNT x 10 pending entries per call and says where to go on", async () => {
  await seed("as", 12);
  await pop("as", "c", 12);
  // Only 12-0 looks idle; COUNT 1 scans 10 entries (1-0..10-0), claims none, and resumes at 11-0.
  await call("XCLAIM", "as", "g", "c", 0, "12-0", "IDLE", 86_400_000, "JUSTID");
  expect(await call("XAUTOCLAIM", "as", "g", "w", 3_600_000, "0", "COUNT", 1, "JUSTID")).toEqual(["11-0", [], []]);
  expect(await call("XAUTOCLAIM", "as", "g", "w", 3_600_000, "11-0", "COUNT", 1, "JUSTID")).toEqual(["0-0", ["12-0"], []]);
});

test("XAUTOCLAIM errors", async () => {
  await seed("ae", 1);
  await pop("ae", "c", 1);
  await expect(call("XAUTOCLAIM", "ae", "g", "w", "x", "0")).rejects.toThrow("ERR Invalid min-idle-time argument for XAUTOCLAIM");
  await expect(call("XAUTOCLAIM", "ae", "g", "w", 0, "x")).rejects.toThrow("ERR Invalid stream ID specified as stream command argument");
  await expect(call("XAUTOCLAIM", "ae", "g", "w", 0, "0", "COUNT", 0)).rejects.toThrow("ERR COUNT must be > 0");
  await expect(call("XAUTOCLAIM", "ae", "g", "w", 0, "0", "COUNT", "x")).rejects.toThrow("ERR COUNT must be > 0");
  await expect(call("XAUTOCLAIM", "ae", "g", "w", 0, "0", "COUNT")).rejects.toThrow("ERR syntax error");
  await expect(call("XAUTOCLAIM", "ae", "g", "w", 0, "0", "BOGUS")).rejects.toThrow("ERR syntax error");
  await expect(call("XAUTOCLAIM", "ae", "nope", "w", 0, "0")).rejects.toThrow("NOGROUP No such key 'ae' or consumer group 'nope'");
  await expect(call("XAUTOCLAIM", "missing", "g", "w", 0, "0")).rejects.toThrow("NOGROUP No such key 'missing' or consumer group 'g'");
});
