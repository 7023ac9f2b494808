// List pops of tasks pushed with XADD: a task whose only field is `value` is that value; any
// other task comes back whole, as its field list, from LPOP, RPOP, BLPOP and BRPOP, so a pop
// (which acks at once) never drops a field.
import { expect, test } from "bun:test";
import Redis from "ioredis";
import { waitBlocked } from "./helpers/plain-client.ts";
import { sharedServer } from "./helpers/shared-server.ts";

const server = sharedServer();
const call = server.call;

test("LPOP and RPOP: a lone value field is the element, any other task its whole field list", async () => {
  await call("XADD", "shapes", "*", "to", "ada@example.com", "subject", "hi", "value", "v");
  await call("XADD", "shapes", "*", "job", "resize");
  await call("XADD", "shapes", "*", "value", "plain");
  await call("XADD", "shapes", "*", "ttl", 60, "max_attempts", 2);
  await call("RPUSH", "shapes", "pushed");
  expect(await call("LPOP", "shapes")).toEqual(["to", "ada@example.com", "subject", "hi", "value", "v"]);
  expect(await call("RPOP", "shapes")).toEqual(["job", "resize"]);
  // Reserved fields are options, not stored: such a task has no field, an empty list.
  expect(await call("LPOP", "shapes", 3)).toEqual(["plain", [], "pushed"]);
  expect(await call("LLEN", "shapes")).toBe(0);
});

test("the popped task is done, with every field still stored: nothing was lost", async () => {
  const id = await call("XADD", "kept", "*", "a", "1", "b", "2", "c", "3");
  expect(await call("LPOP", "kept")).toEqual(["a", "1", "b", "2", "c", "3"]);
  expect(await call("XRANGE", "kept", "-", "+")).toEqual([[id, ["a", "1", "b", "2", "c", "3", "attempts", "1", "max_attempts", "3"]]]);
  expect(await call("XREADGROUP", "GROUP", "g", "w", "STREAMS", "kept", ">")).toBeNull();
});

test("BLPOP and BRPOP hand out a task with several fields whole, at once and after waiting", async () => {
  await call("XADD", "bshapes", "*", "to", "bob", "body", "hello");
  expect(await call("BLPOP", "bshapes-empty", "bshapes", 0)).toEqual(["bshapes", ["to", "bob", "body", "hello"]]);
  const waiter = await server.client();
  const waiting = waiter.call("BRPOP", "bshapes", 0);
  await waitBlocked(server.main, 1);
  await call("XADD", "bshapes", "*", "n", "1", "m", "2");
  expect(await waiting).toEqual(["bshapes", ["n", "1", "m", "2"]]);
});

test("RESP3: the field list is an array of bulk strings inside BLPOP's array", async () => {
  const c = await server.client();
  await c.call("HELLO", 3);
  await call("XADD", "r3shapes", "*", "k", "v", "value", "x");
  const bulk = (value: string) => ({ type: "bulk" as const, value });
  expect(await c.raw("BLPOP", "r3shapes", 0)).toEqual({
    type: "array",
    items: [bulk("r3shapes"), { type: "array", items: [bulk("k"), bulk("v"), bulk("value"), bulk("x")] }],
  });
});

test("ioredis passes the field list through its list helpers", async () => {
  const io = new Redis({ port: server.port, host: "127.0.0.1" });
  try {
    await io.xadd("io-shapes", "*", "to", "ada", "n", "2");
    await io.rpush("io-shapes", "plain");
    expect(await io.lpop("io-shapes")).toEqual(["to", "ada", "n", "2"] as never);
    expect(await io.blpop("io-shapes", 1)).toEqual(["io-shapes", "plain"]);
  } finally {
    io.disconnect();
  }
});
