// MULTI/EXEC through real clients' own transaction APIs: node-redis multi().exec() (RESP2 and
// RESP3), ioredis multi().exec(), redis-py's default pipeline() (transaction=True) and Ruby's
// Redis#multi. Each pushes a batch of tasks in one transaction; the tasks are then popped, and
// each must come out exactly once. WATCH conflicts surface as each client's own error or null.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import Redis from "ioredis";
import { createClient } from "redis";
import { type Fields, GROUP } from "../helpers/lifecycle.ts";
import { PyBridge } from "../helpers/py-bridge.ts";
import { type EzraProcess, removeDir, startEzra } from "../helpers/servers.ts";
import { requireTool, TOOLS } from "../helpers/tools.ts";
import { ScriptBridge } from "./script-bridge.ts";

const TASKS = 25;
const START_MS = 30_000;
const TEST_MS = 60_000;
const havePy = requireTool(TOOLS.redisPy, "the redis-py pipeline() test");
const haveRuby = requireTool(TOOLS.rubyRedis, "the Ruby multi test");

let server: EzraProcess;
beforeAll(async () => {
  server = await startEzra();
}, START_MS);
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  removeDir(server.dataDir);
}, START_MS);

let queues = 0;
const freshQueue = (client: string) => `tx-${client.replace(/\W+/g, "-")}-${++queues}`;
const batch = (): Fields[] => Array.from({ length: TASKS }, (_, i) => [["n", String(i)], ["body", `task ${i}`]]);

/** Pops the queue dry through a plain ioredis worker; returns every popped task's `n`, in order. */
async function popAll(queue: string): Promise<string[]> {
  const worker = new Redis({ port: server.port, host: "127.0.0.1", lazyConnect: true });
  await worker.connect();
  const seen: string[] = [];
  try {
    for (;;) {
      const reply = (await worker.xreadgroup("GROUP", GROUP, "checker", "COUNT", 100, "STREAMS", queue, ">")) as [string, [string, string[]][]][] | null;
      if (!reply) break;
      for (const [id, fields] of reply[0][1]) {
        seen.push(fields[fields.indexOf("n") + 1]);
        await worker.xack(queue, GROUP, id);
      }
    }
  } finally {
    worker.disconnect();
  }
  return seen;
}

/** Every task pushed by the transaction came out exactly once, in push order. */
async function expectEachOnce(queue: string, ids: unknown[]): Promise<void> {
  expect(ids).toHaveLength(TASKS);
  for (const id of ids) expect(String(id)).toMatch(/^\d+-\d+$/);
  expect(await popAll(queue)).toEqual(Array.from({ length: TASKS }, (_, i) => String(i)));
}

describe("node-redis multi().exec()", () => {
  for (const RESP of [2, 3] as const) {
    test(`RESP${RESP}: one transaction pushes each task once`, async () => {
      const client = createClient({ socket: { host: "127.0.0.1", port: server.port, reconnectStrategy: false }, RESP });
      client.on("error", () => {});
      await client.connect();
      const queue = freshQueue(`node-redis-${RESP}`);
      const multi = client.multi();
      for (const fields of batch()) multi.xAdd(queue, "*", Object.fromEntries(fields));
      multi.xLen(queue);
      const replies = (await multi.exec()) as unknown[];
      expect(replies[TASKS]).toBe(TASKS);
      await expectEachOnce(queue, replies.slice(0, TASKS));
      await client.quit();
    });
  }

  test("WATCH broken by another client: exec() rejects with a WatchError and nothing is pushed", async () => {
    const client = createClient({ socket: { host: "127.0.0.1", port: server.port, reconnectStrategy: false } });
    const other = createClient({ socket: { host: "127.0.0.1", port: server.port, reconnectStrategy: false } });
    for (const c of [client, other]) c.on("error", () => {});
    await Promise.all([client.connect(), other.connect()]);
    const queue = freshQueue("node-redis-watch");
    await client.watch(queue);
    await other.xAdd(queue, "*", { by: "other" });
    await expect(client.multi().xAdd(queue, "*", { by: "me" }).exec()).rejects.toThrow(/watch/i);
    expect(await client.xLen(queue)).toBe(1);
    await Promise.all([client.quit(), other.quit()]);
  });
});

describe("ioredis multi().exec()", () => {
  test("one transaction pushes each task once", async () => {
    const client = new Redis({ port: server.port, host: "127.0.0.1", lazyConnect: true });
    await client.connect();
    const queue = freshQueue("ioredis");
    const multi = client.multi();
    for (const fields of batch()) multi.xadd(queue, "*", ...fields.flat());
    multi.xlen(queue);
    const replies = (await multi.exec()) ?? [];
    for (const [err] of replies) expect(err).toBeNull();
    expect(replies[TASKS][1]).toBe(TASKS);
    await expectEachOnce(queue, replies.slice(0, TASKS).map(([, id]) => id));
    client.disconnect();
  });

  test("an error inside EXEC is that element's error; the rest is applied, as in Redis", async () => {
    const client = new Redis({ port: server.port, host: "127.0.0.1", lazyConnect: true });
    await client.connect();
    const queue = freshQueue("ioredis-error");
    const replies = (await client.multi().xadd(queue, "5-1", "a", "1").xadd(queue, "1-1", "a", "1").xlen(queue).exec()) ?? [];
    expect(replies[0]).toEqual([null, "5-1"]);
    expect((replies[1][0] as Error).message).toMatch(/equal or smaller than the target stream top item/);
    expect(replies[2]).toEqual([null, 1]);
    client.disconnect();
  });

  test("WATCH broken by another client: exec() resolves to null", async () => {
    const client = new Redis({ port: server.port, host: "127.0.0.1", lazyConnect: true });
    const other = new Redis({ port: server.port, host: "127.0.0.1", lazyConnect: true });
    await Promise.all([client.connect(), other.connect()]);
    const queue = freshQueue("ioredis-watch");
    await client.watch(queue);
    await other.xadd(queue, "*", "by", "other");
    expect(await client.multi().xadd(queue, "*", "by", "me").exec()).toBeNull();
    expect(await client.xlen(queue)).toBe(1);
    client.disconnect();
    other.disconnect();
  });
});

describe.skipIf(!havePy)("redis-py pipeline() (transaction=True)", () => {
  test(
    "one transaction pushes each task once",
    async () => {
      const bridge = new PyBridge(join(import.meta.dir, "py", "redis_py_bridge.py"), server.port, GROUP, "py-tx");
      try {
        await bridge.ready();
        const queue = freshQueue("redis-py");
        const replies = await bridge.call<unknown[]>("transaction", queue, batch());
        expect(replies[TASKS]).toBe(TASKS);
        await expectEachOnce(queue, replies.slice(0, TASKS));
        // WATCH, then another client's push: WatchError, and only the other push is there.
        const watched = freshQueue("redis-py-watch");
        expect(await bridge.call("watched_push", watched, [["by", "me"]], server.port)).toBe("watch error");
        expect(await bridge.call("length", watched)).toBe(1);
      } finally {
        await bridge.close();
      }
    },
    TEST_MS,
  );
});

describe.skipIf(!haveRuby)("Ruby redis gem multi", () => {
  test(
    "one transaction pushes each task once",
    async () => {
      const bridge = new ScriptBridge(["ruby", join(import.meta.dir, "rb", "ruby_redis_bridge.rb")], server.port, GROUP, "rb-tx");
      try {
        await bridge.ready();
        const queue = freshQueue("ruby");
        const replies = await bridge.call<unknown[]>("transaction", queue, batch());
        expect(replies[TASKS]).toBe(TASKS);
        await expectEachOnce(queue, replies.slice(0, TASKS));
      } finally {
        await bridge.close();
      }
    },
    TEST_MS,
  );
});
