// List commands on queues against a real ezra server: pushes are tasks with a `value` field,
// pops take the oldest task and ack it at once, BLPOP/BRPOP block like XREADGROUP. Also
// through node-redis and ioredis, whose list helpers must work unchanged.
import { expect, test } from "bun:test";
import Redis from "ioredis";
import { createClient } from "redis";
import { waitBlocked } from "./helpers/plain-client.ts";
import { sharedServer } from "./helpers/shared-server.ts";

const server = sharedServer();
const call = server.call;

const client = () => server.client();

test("LPUSH and RPUSH append in argument order and reply the waiting count; both pops take the oldest", async () => {
  expect(await call("LPUSH", "fifo", "a", "b")).toBe(2);
  expect(await call("RPUSH", "fifo", "c")).toBe(3);
  expect(await call("LLEN", "fifo")).toBe(3);
  expect(await call("RPOP", "fifo")).toBe("a");
  expect(await call("LPOP", "fifo")).toBe("b");
  expect(await call("LPOP", "fifo", 5)).toEqual(["c"]);
  expect(await call("LLEN", "fifo")).toBe(0);
});

test("pops on an empty or missing queue answer null of Redis's kind; COUNT 0 gives [] when there is work", async () => {
  expect((await server.main.raw("LPOP", "nothing")).type).toBe("nullBulk");
  expect((await server.main.raw("LPOP", "nothing", 2)).type).toBe("nullArray");
  expect((await server.main.raw("RPOP", "nothing", 0)).type).toBe("nullArray");
  await call("RPUSH", "zero", "x");
  expect(await call("LPOP", "zero", 0)).toEqual([]);
  expect(await call("LLEN", "zero")).toBe(1);
});

test("a list pop acks at once: the task is done after one attempt and is never redelivered", async () => {
  await call("RPUSH", "once", "job");
  expect(await call("LPOP", "once")).toBe("job");
  const [[, fields]] = (await call("XRANGE", "once", "-", "+")) as [string, string[]][];
  expect(fields).toEqual(["value", "job", "attempts", "1", "max_attempts", "3"]);
  const info = (await call("XINFO", "STREAM", "once")) as (string | number)[];
  expect(info[info.indexOf("ezra-done") + 1]).toBe(1);
  expect(info[info.indexOf("ezra-in-flight") + 1]).toBe(0);
  expect(await call("XREADGROUP", "GROUP", "g", "w", "STREAMS", "once", ">")).toBeNull();
});

test("one key for both: XADD then LPOP, RPUSH then XREADGROUP", async () => {
  await call("XADD", "mixed", "*", "value", "v1");
  await call("XADD", "mixed", "*", "to", "ada@example.com", "subject", "hi");
  await call("XADD", "mixed", "*", "ttl", 60);
  // A lone `value` field is the element; any other task comes back whole, as its field list.
  expect(await call("LPOP", "mixed", 3)).toEqual(["v1", ["to", "ada@example.com", "subject", "hi"], []]);
  await call("RPUSH", "mixed", "from-list");
  const read = (await call("XREADGROUP", "GROUP", "g", "w", "STREAMS", "mixed", ">")) as [string, [string, string[]][]][];
  expect(read[0][1][0][1]).toEqual(["value", "from-list", "attempts", "1", "max_attempts", "3"]);
});

test("LPOP on a dead view takes a dead task for good", async () => {
  const id = await call("XADD", "lp", "*", "max_attempts", 1, "value", "poison");
  await call("XREADGROUP", "GROUP", "g", "w", "STREAMS", "lp", ">");
  await call("XNACK", "lp", "g", String(id));
  expect(await call("LLEN", "lp::dead")).toBe(1);
  expect(await call("LPOP", "lp::dead")).toBe("poison");
  expect(await call("LLEN", "lp::dead")).toBe(0);
  await expect(call("LPUSH", "lp::dead", "x")).rejects.toThrow("dead-letter view");
});

test("BLPOP returns at once from the first key with work, else waits; BRPOP is the same", async () => {
  await call("RPUSH", "bl:2", "ready");
  expect(await call("BLPOP", "bl:1", "bl:2", 0)).toEqual(["bl:2", "ready"]);
  const waiter = await client();
  const waiting = waiter.call("BRPOP", "bl:1", "bl:2", 0);
  await waitBlocked(server.main, 1);
  await call("LPUSH", "bl:1", "late");
  expect(await waiting).toEqual(["bl:1", "late"]);
  expect(await call("LLEN", "bl:1")).toBe(0);
});

test("blocked list pops are served oldest first, one task each", async () => {
  const first = await client();
  const second = await client();
  const one = first.call("BLPOP", "order", 0);
  await waitBlocked(server.main, 1);
  const two = second.call("BLPOP", "order", 0);
  await waitBlocked(server.main, 2);
  await call("RPUSH", "order", "a", "b");
  expect(await one).toEqual(["order", "a"]);
  expect(await two).toEqual(["order", "b"]);
});

test("BLPOP timeout: decimals allowed, a null array when it passes; Redis's errors", async () => {
  expect((await server.main.raw("BLPOP", "silent", "0.01")).type).toBe("nullArray");
  await expect(call("BLPOP", "silent", -1)).rejects.toThrow("ERR timeout is negative");
  await expect(call("BLPOP", "silent", "soon")).rejects.toThrow("ERR timeout is not a float or out of range");
  await expect(call("BLPOP", "silent")).rejects.toThrow("ERR wrong number of arguments for 'blpop' command");
  await expect(call("LPOP", "silent", -1)).rejects.toThrow("ERR value is out of range, must be positive");
  await expect(call("LPOP", "silent", 1, 2)).rejects.toThrow("ERR wrong number of arguments for 'lpop' command");
  await expect(call("RPUSH", "silent")).rejects.toThrow("ERR wrong number of arguments for 'rpush' command");
});

test("RESP3: a timed-out BLPOP is _, a served one an array", async () => {
  const c = await client();
  await c.call("HELLO", 3);
  expect((await c.raw("BLPOP", "r3", "0.01")).type).toBe("null");
  await call("RPUSH", "r3", "x");
  expect(await c.raw("BLPOP", "r3", 0)).toEqual({ type: "array", items: [{ type: "bulk", value: "r3" }, { type: "bulk", value: "x" }] });
});

test("node-redis and ioredis list helpers work unchanged", async () => {
  const node = await createClient({ socket: { port: server.port, host: "127.0.0.1" } }).connect();
  expect(await node.rPush("clients", ["n1", "n2"])).toBe(2);
  expect(await node.lLen("clients")).toBe(2);
  expect(await node.lPop("clients")).toBe("n1");
  const io = new Redis({ port: server.port, host: "127.0.0.1" });
  expect(await io.blpop("clients", 1)).toEqual(["clients", "n2"]);
  expect(await io.lpush("clients", "i1")).toBe(1);
  expect(await io.rpop("clients", 1)).toEqual(["i1"]);
  expect(await io.blpop("clients", 0.01)).toBeNull();
  await node.quit();
  io.disconnect();
});
