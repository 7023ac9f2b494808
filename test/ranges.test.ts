// XRANGE, XREVRANGE, XREAD (incl. blocked) and XTRIM against a real ezra server with ioredis;
// plus the index check: every statement of store/reads-sql.ts is served by an index.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connectPlain, type PlainClient, waitBlocked } from "./helpers/plain-client.ts";
import { type EzraProcess, removeDir, startEzra } from "./helpers/servers.ts";

let ezra: EzraProcess;
let r: PlainClient;
const extra: PlainClient[] = [];

beforeAll(async () => {
  ezra = await startEzra();
  r = await connectPlain(ezra.port);
});

afterAll(async () => {
  for (const c of [r, ...extra]) c.close();
  expect(await ezra.stop()).toBe(0);
  removeDir(ezra.dataDir);
});

/** Another connection, for a command that blocks. */
async function client(): Promise<PlainClient> {
  const c = await connectPlain(ezra.port);
  extra.push(c);
  return c;
}

const call = (...args: (string | number)[]) => r.call(...args);
const ids = (reply: unknown) => (reply as [string, string[]][]).map(([id]) => id);
const withMeta = (fields: string[], attempts: number, max = 3) => [...fields, "attempts", String(attempts), "max_attempts", String(max)];

async function seed(key: string): Promise<void> {
  for (const id of ["1-1", "2-1", "2-2", "3-0"]) await call("XADD", key, id, "n", id);
}

test("XRANGE: -, +, inclusive and exclusive bounds, incomplete ids, COUNT", async () => {
  await seed("rg");
  expect(ids(await call("XRANGE", "rg", "-", "+"))).toEqual(["1-1", "2-1", "2-2", "3-0"]);
  expect(ids(await call("XRANGE", "rg", "(1-1", "+"))).toEqual(["2-1", "2-2", "3-0"]);
  expect(ids(await call("XRANGE", "rg", "-", "(3-0"))).toEqual(["1-1", "2-1", "2-2"]);
  // An incomplete id means the whole millisecond: `2` is 2-0 as a start and 2-<max> as an end.
  expect(ids(await call("XRANGE", "rg", "2", "2"))).toEqual(["2-1", "2-2"]);
  expect(ids(await call("XRANGE", "rg", "(2", "+"))).toEqual(["2-1", "2-2", "3-0"]);
  expect(ids(await call("XRANGE", "rg", "-", "+", "COUNT", 2))).toEqual(["1-1", "2-1"]);
  expect((await r.raw("XRANGE", "rg", "-", "+", "COUNT", 0)).type).toBe("nullArray");
  expect((await r.raw("XRANGE", "rg", "-", "+", "COUNT", -1)).type).toBe("nullArray");
  expect(await call("XRANGE", "rg", "3", "1")).toEqual([]);
  expect(await call("XRANGE", "no-such-key", "-", "+")).toEqual([]);
  expect(await call("XRANGE", "rg", "1-1", "1-1")).toEqual([["1-1", withMeta(["n", "1-1"], 0)]]);
});

test("XREVRANGE: end first, newest first", async () => {
  await seed("rv");
  expect(ids(await call("XREVRANGE", "rv", "+", "-"))).toEqual(["3-0", "2-2", "2-1", "1-1"]);
  expect(ids(await call("XREVRANGE", "rv", "(3-0", "-", "COUNT", 2))).toEqual(["2-2", "2-1"]);
  expect(ids(await call("XREVRANGE", "rv", "2", "2"))).toEqual(["2-2", "2-1"]);
});

test("XRANGE argument errors are Redis's", async () => {
  await expect(call("XRANGE", "rg", "x", "+")).rejects.toThrow("ERR Invalid stream ID specified as stream command argument");
  await expect(call("XRANGE", "rg", "(-", "+")).rejects.toThrow("Invalid stream ID");
  await expect(call("XRANGE", "rg", "-", "+", "COUNT")).rejects.toThrow("ERR syntax error");
  await expect(call("XRANGE", "rg", "-", "+", "LIMIT", 1)).rejects.toThrow("ERR syntax error");
  await expect(call("XRANGE", "rg", "-", "+", "COUNT", "x")).rejects.toThrow("ERR value is not an integer or out of range");
  await expect(call("XRANGE", "rg", "-")).rejects.toThrow("ERR wrong number of arguments for 'xrange' command");
  await expect(call("XRANGE", "rg", "(9007199254740991-9007199254740991", "+")).rejects.toThrow("ERR invalid start ID for the interval");
});

test("XRANGE shows tasks in every state of the key: waiting, in flight and done, with attempts", async () => {
  for (const id of ["1-0", "2-0", "3-0"]) await call("XADD", "states", id, "job", id);
  await call("XREADGROUP", "GROUP", "g", "w", "COUNT", 2, "STREAMS", "states", ">");
  await call("XACK", "states", "g", "1-0");
  expect(await call("XRANGE", "states", "-", "+")).toEqual([
    ["1-0", withMeta(["job", "1-0"], 1)],
    ["2-0", withMeta(["job", "2-0"], 1)],
    ["3-0", withMeta(["job", "3-0"], 0)],
  ]);
});

test("XRANGE on <queue>::dead lists the dead tasks", async () => {
  await call("XADD", "dq", "1-0", "max_attempts", 1, "job", "a");
  await call("XADD", "dq", "2-0", "job", "b");
  await call("XREADGROUP", "GROUP", "g", "w", "STREAMS", "dq", ">");
  await call("XNACK", "dq", "g", "1-0", "REASON", "broken");
  expect(await call("XRANGE", "dq::dead", "-", "+")).toEqual([["1-0", withMeta(["job", "a"], 1, 1)]]);
  expect(ids(await call("XRANGE", "dq", "-", "+"))).toEqual(["2-0"]);
});

test("XREAD: entries after each id, $ and missing keys, COUNT, errors", async () => {
  await seed("xr");
  const all = (await call("XREAD", "STREAMS", "xr", "0")) as [string, unknown][];
  expect(all.map(([k, e]) => [k, ids(e)])).toEqual([["xr", ["1-1", "2-1", "2-2", "3-0"]]]);
  const some = (await call("XREAD", "COUNT", 1, "STREAMS", "xr", "missing", "2-1", "0")) as [string, unknown][];
  expect(some.map(([k, e]) => [k, ids(e)])).toEqual([["xr", ["2-2"]]]);
  expect(await call("XREAD", "STREAMS", "xr", "$")).toBeNull();
  expect(await call("XREAD", "STREAMS", "missing", "0")).toBeNull();
  await expect(call("XREAD", "STREAMS", "xr", ">")).rejects.toThrow("The > ID can be specified only when calling XREADGROUP");
  await expect(call("XREAD", "STREAMS", "xr", "ys", "0")).rejects.toThrow("ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.");
  await expect(call("XREAD", "COUNT", 1, "xr", "0")).rejects.toThrow("ERR syntax error");
  await expect(call("XREAD", "BLOCK", -1, "STREAMS", "xr", "0")).rejects.toThrow("ERR timeout is negative");
  // Reading claims nothing: the tasks are still waiting.
  expect(await call("XLEN", "xr")).toBe(4);
});

test("a blocked XREAD is woken by XADD, next to a blocked worker that claims the same task", async () => {
  const watcher = await client();
  const worker = await client();
  const watching = watcher.call("XREAD", "BLOCK", 0, "STREAMS", "wake", "$");
  const working = worker.call("XREADGROUP", "GROUP", "g", "w", "BLOCK", 0, "STREAMS", "wake", ">");
  await waitBlocked(r, 2);
  const id = (await call("XADD", "wake", "*", "job", "1")) as string;
  expect(await watching).toEqual([["wake", [[id, withMeta(["job", "1"], 0)]]]]);
  expect(await working).toEqual([["wake", [[id, withMeta(["job", "1"], 1)]]]]);
});

test("a watcher that cannot be served does not hold back a worker waiting behind it", async () => {
  await call("XADD", "held", "1-0", "job", "1");
  await call("XREADGROUP", "GROUP", "g", "first", "STREAMS", "held", ">");
  const watcher = await client();
  const worker = await client();
  const watching = watcher.call("XREAD", "BLOCK", 0, "STREAMS", "held", "$");
  await waitBlocked(r, 1);
  const working = worker.call("XREADGROUP", "GROUP", "g", "second", "BLOCK", 0, "STREAMS", "held", ">");
  await waitBlocked(r, 2);
  // The nack makes 1-0 available again: nothing new for the watcher, work for the worker.
  await call("XNACK", "held", "g", "1-0");
  expect(await working).toEqual([["held", [["1-0", withMeta(["job", "1"], 2)]]]]);
  await call("XADD", "held", "2-0", "job", "2");
  expect(await watching).toEqual([["held", [["2-0", withMeta(["job", "2"], 0)]]]]);
});

test("XREAD BLOCK times out with a null reply", async () => {
  expect(await call("XREAD", "BLOCK", 10, "STREAMS", "quiet", "$")).toBeNull();
});

test("XTRIM: MAXLEN and MINID, = and ~ both exact, LIMIT with ~ (0 = no limit)", async () => {
  for (let i = 1; i <= 6; i++) await call("XADD", "tr", `${i}-0`, "n", i);
  expect(await call("XTRIM", "tr", "MAXLEN", "=", 5)).toBe(1);
  expect(await call("XTRIM", "tr", "MAXLEN", "~", 0, "LIMIT", 1)).toBe(1);
  expect(await call("XTRIM", "tr", "MINID", "4")).toBe(1);
  expect(ids(await call("XRANGE", "tr", "-", "+"))).toEqual(["4-0", "5-0", "6-0"]);
  expect(await call("XTRIM", "tr", "LIMIT", 0, "MAXLEN", "~", 1)).toBe(2);
  expect(await call("XTRIM", "missing", "MAXLEN", 0)).toBe(0);
  expect(ids(await call("XRANGE", "tr", "-", "+"))).toEqual(["6-0"]);
});

test("XTRIM argument errors are Redis's", async () => {
  const cases: [(string | number)[], string][] = [
    [["MAXLEN", 1, "LIMIT", 1], "ERR syntax error, LIMIT cannot be used without the special ~ option"],
    [["LIMIT", 5], "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"],
    [["MAXLEN", 1, "MINID", 1], "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"],
    [["MAXLEN", -1], "ERR The MAXLEN argument must be >= 0."],
    [["MAXLEN", "~", 1, "LIMIT", -1], "ERR The LIMIT argument must be >= 0."],
    [["MAXLEN", "1.5"], "ERR value is not an integer or out of range"],
    [["MINID", "x"], "ERR Invalid stream ID specified as stream command argument"],
    [["MAXLEN", 1, "foo"], "ERR syntax error"],
  ];
  for (const [args, message] of cases) await expect(call("XTRIM", "tr", ...args)).rejects.toThrow(message);
});
