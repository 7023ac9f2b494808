// XINFO GROUPS / CONSUMERS / STREAM FULL and XGROUP DESTROY / CREATECONSUMER / DELCONSUMER /
// SETID against a real ezra server; removing a group or a consumer never loses a task.
import { expect, test } from "bun:test";
import { type Plain, waitBlocked } from "./helpers/plain-client.ts";
import { sharedServer } from "./helpers/shared-server.ts";

const server = sharedServer();
const call = server.call;
const NO_KEY =
  "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/** A RESP2 map (flat name, value list) as an object. */
function asObject(reply: Plain): Record<string, Plain> {
  const list = reply as Plain[];
  const out: Record<string, Plain> = {};
  for (let i = 0; i < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

async function seed(key: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await call("XADD", key, `${i}-0`, "n", String(i));
}

const pop = (key: string, consumer: string, count: number, group = "g") =>
  call("XREADGROUP", "GROUP", group, consumer, "COUNT", count, "STREAMS", key, ">");

test("XINFO GROUPS: every group, its consumers and pending tasks, and the queue's shared progress", async () => {
  await call("XGROUP", "CREATE", "ig", "g", "0", "MKSTREAM");
  await call("XGROUP", "CREATE", "ig", "fresh", "0");
  expect((await call("XINFO", "GROUPS", "ig")) as Plain[]).toEqual([
    ["name", "fresh", "consumers", 0, "pending", 0, "last-delivered-id", "0-0", "entries-read", null, "lag", 0],
    ["name", "g", "consumers", 0, "pending", 0, "last-delivered-id", "0-0", "entries-read", null, "lag", 0],
  ]);
  await seed("ig", 4);
  await pop("ig", "a", 2);
  await pop("ig", "b", 1);
  await call("XACK", "ig", "g", "1-0");
  const [fresh, g] = ((await call("XINFO", "GROUPS", "ig")) as Plain[]).map(asObject);
  expect(g).toEqual({ name: "g", consumers: 2, pending: 2, "last-delivered-id": "3-0", "entries-read": 3, lag: 1 });
  // Groups share the tasks, so the other group shows the same progress but none of g's pending tasks.
  expect(fresh).toEqual({ name: "fresh", consumers: 0, pending: 0, "last-delivered-id": "3-0", "entries-read": 3, lag: 1 });
  await expect(call("XINFO", "GROUPS", "missing")).rejects.toThrow("ERR no such key");
});

test("XINFO CONSUMERS: pending, idle (since last command), inactive (since last claim; -1: never)", async () => {
  await seed("ic", 3);
  await pop("ic", "a", 2);
  await call("XGROUP", "CREATECONSUMER", "ic", "g", "idle-one");
  const consumers = ((await call("XINFO", "CONSUMERS", "ic", "g")) as Plain[]).map(asObject);
  expect(consumers.map((c) => [c.name, c.pending])).toEqual([["a", 2], ["idle-one", 0]]);
  expect(consumers[1].inactive).toBe(-1);
  expect(consumers[0].inactive as number).toBeGreaterThanOrEqual(0);
  expect(consumers[0].idle as number).toBeGreaterThanOrEqual(0);
  const raw = await server.main.raw("XINFO", "CONSUMERS", "ic", "g");
  expect(raw.type).toBe("array");
  await expect(call("XINFO", "CONSUMERS", "ic", "nope")).rejects.toThrow("NOGROUP No such consumer group 'nope' for key name 'ic'");
  await expect(call("XINFO", "CONSUMERS", "missing", "g")).rejects.toThrow("ERR no such key");
});

test("XINFO STREAM FULL: entries, groups with their pending entries and consumers (RESP2 and RESP3)", async () => {
  await seed("if", 3);
  await pop("if", "a", 2);
  const full = asObject(await call("XINFO", "STREAM", "if", "FULL"));
  expect(Object.keys(full)).toEqual([
    "length", "radix-tree-keys", "radix-tree-nodes", "last-generated-id", "max-deleted-entry-id", "entries-added",
    "recorded-first-entry-id", "entries", "groups",
    "ezra-available", "ezra-in-flight", "ezra-done", "ezra-dead", "ezra-visibility-timeout-ms", "ezra-max-attempts",
  ]);
  expect((full.entries as Plain[]).map((e) => (e as Plain[])[0])).toEqual(["1-0", "2-0", "3-0"]);
  const [group] = (full.groups as Plain[]).map(asObject);
  expect(group.name).toBe("g");
  expect(group["pel-count"]).toBe(2);
  expect((group.pending as Plain[][]).map(([id, consumer, , count]) => [id, consumer, count])).toEqual([["1-0", "a", 1], ["2-0", "a", 1]]);
  const [consumer] = (group.consumers as Plain[]).map(asObject);
  expect(Object.keys(consumer)).toEqual(["name", "seen-time", "active-time", "pel-count", "pending"]);
  expect((consumer.pending as Plain[][]).map(([id, , count]) => [id, count])).toEqual([["1-0", 1], ["2-0", 1]]);
  expect(consumer["seen-time"] as number).toBeGreaterThan(1_000_000_000_000);
  // COUNT limits every list; -1 means the default (10), 0 means all.
  const one = asObject(await call("XINFO", "STREAM", "if", "FULL", "COUNT", 1));
  expect((one.entries as Plain[]).length).toBe(1);
  expect((asObject((one.groups as Plain[])[0]).pending as Plain[]).length).toBe(1);
  expect((asObject(await call("XINFO", "STREAM", "if", "FULL", "COUNT", 0)).entries as Plain[]).length).toBe(3);
  expect((asObject(await call("XINFO", "STREAM", "if", "FULL", "count", -1)).entries as Plain[]).length).toBe(3);

  const resp3 = await server.client();
  await resp3.call("HELLO", "3");
  const raw = await resp3.raw("XINFO", "STREAM", "if", "FULL");
  expect(raw.type).toBe("map");
  const groups = raw.type === "map" ? raw.entries.find(([k]) => k.type === "bulk" && k.value === "groups")?.[1] : undefined;
  expect(groups?.type === "array" && groups.items[0].type).toBe("map");
});

test("XINFO STREAM argument errors follow Redis", async () => {
  await seed("ie", 1);
  const bad = "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.";
  await expect(call("XINFO", "STREAM", "ie", "BOGUS")).rejects.toThrow(bad);
  await expect(call("XINFO", "STREAM", "ie", "FULL", "COUNT")).rejects.toThrow(bad);
  await expect(call("XINFO", "STREAM", "ie", "FULL", "COUNT", 1, "x")).rejects.toThrow(bad);
  await expect(call("XINFO", "STREAM", "ie", "FULL", "COUNT", "x")).rejects.toThrow("ERR value is not an integer or out of range");
  await expect(call("XINFO", "STREAM", "missing", "FULL")).rejects.toThrow("ERR no such key");
});

test("XGROUP CREATECONSUMER and DELCONSUMER: DELCONSUMER gives the consumer's tasks back", async () => {
  await seed("dc", 3);
  await pop("dc", "gone", 2);
  expect(await call("XGROUP", "CREATECONSUMER", "dc", "g", "new")).toBe(1);
  expect(await call("XGROUP", "CREATECONSUMER", "dc", "g", "new")).toBe(0);
  expect(await call("XGROUP", "DELCONSUMER", "dc", "g", "gone")).toBe(2);
  expect(await call("XGROUP", "DELCONSUMER", "dc", "g", "gone")).toBe(0);
  expect(((await call("XINFO", "CONSUMERS", "dc", "g")) as Plain[]).map((c) => asObject(c).name)).toEqual(["new"]);
  // Both tasks wait again, and the withdrawn delivery did not use up an attempt.
  expect(await call("XLEN", "dc")).toBe(3);
  expect(await call("XPENDING", "dc", "g")).toEqual([0, null, null, null]);
  expect(await pop("dc", "next", 1)).toEqual([["dc", [["1-0", ["n", "1", "attempts", "1", "max_attempts", "3"]]]]]);
  await expect(call("XGROUP", "CREATECONSUMER", "dc", "nope", "c")).rejects.toThrow("NOGROUP No such consumer group 'nope' for key name 'dc'");
  await expect(call("XGROUP", "DELCONSUMER", "missing", "g", "c")).rejects.toThrow(NO_KEY);
});

test("XGROUP DELCONSUMER wakes a blocked reader with the returned task", async () => {
  await seed("dw", 1);
  await pop("dw", "gone", 1);
  const waiter = await server.client();
  const read = waiter.call("XREADGROUP", "GROUP", "g", "w", "BLOCK", 0, "STREAMS", "dw", ">");
  await waitBlocked(server.main, 1);
  expect(await call("XGROUP", "DELCONSUMER", "dw", "g", "gone")).toBe(1);
  expect(await read).toEqual([["dw", [["1-0", ["n", "1", "attempts", "1", "max_attempts", "3"]]]]]);
});

test("XGROUP DESTROY removes the group; its in-flight tasks stay in flight, ackable once the group is back", async () => {
  await seed("gd", 2);
  await pop("gd", "w", 2);
  expect(await call("XGROUP", "DESTROY", "gd", "g")).toBe(1);
  expect(await call("XGROUP", "DESTROY", "gd", "g")).toBe(0);
  expect(await call("XINFO", "GROUPS", "gd")).toEqual([]);
  await expect(call("XPENDING", "gd", "g")).rejects.toThrow("NOGROUP");
  expect(asObject(await call("XINFO", "STREAM", "gd"))["ezra-in-flight"]).toBe(2);
  // An XACK through the group that is gone acks nothing, as in Redis; the tasks stay in flight.
  expect(await call("XACK", "gd", "g", "1-0")).toBe(0);
  // Re-creating the group shows them again, and its XACK completes them.
  await call("XGROUP", "CREATE", "gd", "g", "$");
  expect(await call("XPENDING", "gd", "g")).toEqual([2, "1-0", "2-0", [["w", "2"]]]);
  expect(await call("XACK", "gd", "g", "1-0")).toBe(1);
  expect(await call("XPENDING", "gd", "g")).toEqual([1, "2-0", "2-0", [["w", "1"]]]);
  await expect(call("XGROUP", "DESTROY", "missing", "g")).rejects.toThrow(NO_KEY);
});

test("XGROUP SETID is validated as Redis does, then refused: ezra's groups have no position to set", async () => {
  await seed("si", 1);
  await call("XGROUP", "CREATE", "si", "g", "0");
  await expect(call("XGROUP", "SETID", "si", "g", "0")).rejects.toThrow("ERR XGROUP SETID is not supported");
  await expect(call("XGROUP", "SETID", "si", "g", "$", "ENTRIESREAD", 3)).rejects.toThrow("ERR XGROUP SETID is not supported");
  await expect(call("XGROUP", "SETID", "si", "g", "abc")).rejects.toThrow("ERR Invalid stream ID specified as stream command argument");
  await expect(call("XGROUP", "SETID", "si", "nope", "abc")).rejects.toThrow("NOGROUP No such consumer group 'nope' for key name 'si'");
  await expect(call("XGROUP", "SETID", "missing", "g", "0")).rejects.toThrow(NO_KEY);
  await expect(call("XGROUP", "SETID", "si", "g", "0", "ENTRIESREAD", -2)).rejects.toThrow("ERR value for ENTRIESREAD must be positive or -1");
  await expect(call("XGROUP", "SETID", "si", "g", "0", "BOGUS")).rejects.toThrow(
    "ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.",
  );
});

test("XGROUP HELP and XINFO HELP list the new subcommands", async () => {
  const xgroup = ((await call("XGROUP", "HELP")) as string[]).join("\n");
  for (const sub of ["CREATECONSUMER", "DELCONSUMER", "DESTROY", "SETID"]) expect(xgroup).toContain(`${sub} <key>`);
  const xinfo = ((await call("XINFO", "HELP")) as string[]).join("\n");
  for (const sub of ["CONSUMERS", "GROUPS", "STREAM"]) expect(xinfo).toContain(`${sub} <key>`);
});
