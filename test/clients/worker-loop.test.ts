// The canonical Redis Streams worker loop, through node-redis (RESP3), ioredis and redis-py:
// a restarted worker first reads its own pending tasks (`0`), then new ones (`>`); a rescuer
// takes over a crashed consumer's work with XAUTOCLAIM; a long job keeps its lease with XCLAIM
// heartbeats and is not redelivered, until the heartbeats stop.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { join } from "node:path";
import { createClient } from "redis";
import { PyBridge } from "../helpers/py-bridge.ts";
import { type EzraProcess, removeDir, startEzra } from "../helpers/servers.ts";
import { requireTool, TOOLS } from "../helpers/tools.ts";

type Fields = [string, string][];
interface Entry { id: string; fields: Fields }
interface Pending { id: string; consumer: string; deliveries: number }

/** One worker connection with a fixed consumer name, through one client library's stream API. */
interface Worker {
  push(queue: string, fields: Fields): Promise<string>;
  /** XREADGROUP ... COUNT n [BLOCK ms] STREAMS queue <id>; null when nothing came. */
  read(queue: string, id: ">" | "0", count: number, blockMs?: number): Promise<Entry[] | null>;
  autoclaim(queue: string, minIdleMs: number, start: string, count: number): Promise<{ next: string; entries: Entry[] }>;
  /** XCLAIM queue g <me> 0 ids JUSTID: keeps the lease of tasks this worker holds. */
  heartbeat(queue: string, ids: string[]): Promise<string[]>;
  ack(queue: string, ids: string[]): Promise<number>;
  pending(queue: string): Promise<{ count: number; consumers: [string, number][] }>;
  pendingRange(queue: string): Promise<Pending[]>;
  configure(queue: string, settings: Record<string, string>): Promise<void>;
  /** XINFO GROUPS / CONSUMERS / STREAM FULL as the client parses them. */
  inspect(queue: string): Promise<{ groups: string[]; consumers: [string, number][]; entries: number; pelCount: number }>;
  close(): Promise<void>;
}

interface Adapter {
  name: string;
  connect(port: number, consumer: string): Promise<Worker>;
}

const GROUP = "g";
/** Per-test limit: the heartbeat test waits out a BLOCK and a lease; the machine is shared. */
const TEST_MS = 60_000;
/** Lease of the long job's queue, and how often its worker sends a heartbeat (well inside it). */
const LEASE_SECONDS = 1.5;
const HEARTBEAT_EVERY_MS = 100;
/** How long the competing worker waits while heartbeats keep the lease: longer than the lease. */
const COMPETITOR_BLOCK_MS = 2_500;
/** Longest wait for an event (a lease running out, a task becoming idle) before failing. */
const EVENT_WAIT_MS = 20_000;

const flat = (fields: Record<string, string> | string[]): Fields => {
  if (!Array.isArray(fields)) return Object.entries(fields);
  const out: Fields = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i], fields[i + 1]]);
  return out;
};
const rawEntries = (list: [string, string[]][]): Entry[] => list.map(([id, fields]) => ({ id, fields: flat(fields) }));
/** A RESP2 map reply (name, value, ...) as an object. */
const pairs = (list: unknown[]): Record<string, unknown> => Object.fromEntries(flat(list as string[]));
const attempts = (e: Entry) => e.fields.find(([name]) => name === "attempts")?.[1];

const nodeRedis: Adapter = {
  name: "node-redis RESP3",
  async connect(port, consumer) {
    const c = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, RESP: 3 });
    c.on("error", () => {}); // a failed command rejects its own promise
    await c.connect();
    const messages = (list: ({ id: string; message: Record<string, string> } | null)[]) =>
      list.flatMap((m) => (m ? [{ id: m.id, fields: flat(m.message) }] : []));
    return {
      push: (queue, fields) => c.xAdd(queue, "*", Object.fromEntries(fields)),
      async read(queue, id, count, blockMs) {
        const reply = await c.xReadGroup(GROUP, consumer, { key: queue, id }, { COUNT: count, BLOCK: blockMs });
        if (reply === null) return null;
        const streams = Array.isArray(reply) ? reply : Object.entries(reply as object).map(([name, m]) => ({ name, messages: m }));
        return (streams as { messages: { id: string; message: Record<string, string> }[] }[]).flatMap((s) => messages(s.messages));
      },
      async autoclaim(queue, minIdleMs, start, count) {
        const reply = await c.xAutoClaim(queue, GROUP, consumer, minIdleMs, start, { COUNT: count });
        return { next: String(reply.nextId), entries: messages(reply.messages as never) };
      },
      heartbeat: async (queue, ids) => (await c.xClaimJustId(queue, GROUP, consumer, 0, ids)).map(String),
      ack: (queue, ids) => c.xAck(queue, GROUP, ids),
      async pending(queue) {
        const p = await c.xPending(queue, GROUP);
        return { count: Number(p.pending), consumers: (p.consumers ?? []).map((x) => [String(x.name), x.deliveriesCounter] as [string, number]) };
      },
      pendingRange: async (queue) =>
        (await c.xPendingRange(queue, GROUP, "-", "+", 100)).map((p) => ({ id: String(p.id), consumer: String(p.consumer), deliveries: Number(p.deliveriesCounter) })),
      async configure(queue, settings) {
        await c.sendCommand(["EZRA", "CONFIG", "SET", queue, ...Object.entries(settings).flat()]);
      },
      async inspect(queue) {
        const groups = (await c.xInfoGroups(queue)) as unknown as { name: string }[];
        const consumers = (await c.xInfoConsumers(queue, GROUP)) as unknown as { name: string; pending: number }[];
        // RESP3: the FULL reply is a map, which node-redis hands back as an object.
        const full = (await c.sendCommand(["XINFO", "STREAM", queue, "FULL"])) as { entries: unknown[]; groups: { "pel-count": number }[] };
        return {
          groups: groups.map((g) => String(g.name)),
          consumers: consumers.map((x) => [String(x.name), Number(x.pending)]),
          entries: full.entries.length,
          pelCount: full.groups[0]["pel-count"],
        };
      },
      async close() {
        if (c.isOpen) c.destroy();
      },
    };
  },
};

const ioredis: Adapter = {
  name: "ioredis",
  async connect(port, consumer) {
    const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on("error", () => {});
    await c.connect();
    return {
      push: async (queue, fields) => String(await c.xadd(queue, "*", ...fields.flat())),
      async read(queue, id, count, blockMs) {
        const block = blockMs === undefined ? [] : ["BLOCK", blockMs];
        // The typed method, not c.call(): ioredis 6's call() unwraps a one-stream reply.
        const xreadgroup = c.xreadgroup.bind(c) as (...args: (string | number)[]) => Promise<unknown>;
        const reply = (await xreadgroup("GROUP", GROUP, consumer, "COUNT", count, ...block, "STREAMS", queue, id)) as
          | [string, [string, string[]][]][]
          | null;
        return reply === null ? null : reply.flatMap(([, list]) => rawEntries(list));
      },
      async autoclaim(queue, minIdleMs, start, count) {
        const [next, list] = (await c.xautoclaim(queue, GROUP, consumer, minIdleMs, start, "COUNT", count)) as [string, [string, string[]][]];
        return { next, entries: rawEntries(list) };
      },
      heartbeat: async (queue, ids) => (await c.xclaim(queue, GROUP, consumer, 0, ...ids, "JUSTID")) as string[],
      ack: (queue, ids) => c.xack(queue, GROUP, ...ids),
      async pending(queue) {
        const [count, , , consumers] = (await c.xpending(queue, GROUP)) as [number, string, string, [string, string][] | null];
        return { count, consumers: (consumers ?? []).map(([name, n]) => [name, Number(n)]) };
      },
      pendingRange: async (queue) =>
        ((await c.xpending(queue, GROUP, "-", "+", 100)) as [string, string, number, number][]).map(([id, consumer, , deliveries]) => ({ id, consumer, deliveries })),
      async configure(queue, settings) {
        await c.call("EZRA", "CONFIG", "SET", queue, ...Object.entries(settings).flat());
      },
      async inspect(queue) {
        const groups = ((await c.xinfo("GROUPS", queue)) as unknown[][]).map(pairs);
        const consumers = ((await c.xinfo("CONSUMERS", queue, GROUP)) as unknown[][]).map(pairs);
        const full = pairs((await c.xinfo("STREAM", queue, "FULL")) as unknown[]);
        const group = pairs((full.groups as unknown[][])[0]);
        return {
          groups: groups.map((g) => String(g.name)),
          consumers: consumers.map((x) => [String(x.name), Number(x.pending)]),
          entries: (full.entries as unknown[]).length,
          pelCount: Number(group["pel-count"]),
        };
      },
      async close() {
        c.disconnect();
      },
    };
  },
};

const BRIDGE = join(import.meta.dir, "py", "worker_loop_bridge.py");

const redisPy: Adapter = {
  name: "redis-py",
  async connect(port, consumer) {
    const b = new PyBridge(BRIDGE, port, GROUP, consumer);
    await b.ready();
    const entries = (list: { id: string; fields: Fields }[] | null) => list;
    return {
      push: (queue, fields) => b.call("push", queue, fields),
      read: async (queue, id, count, blockMs) => entries(await b.call("read", queue, id, count, blockMs ?? null)),
      autoclaim: (queue, minIdleMs, start, count) => b.call("autoclaim", queue, minIdleMs, start, count),
      heartbeat: (queue, ids) => b.call("heartbeat", queue, ids),
      ack: (queue, ids) => b.call("ack", queue, ids),
      pending: (queue) => b.call("pending", queue),
      pendingRange: (queue) => b.call("pending_range", queue),
      configure: (queue, settings) => b.call("configure", queue, settings),
      inspect: (queue) => b.call("inspect", queue),
      close: () => b.close(),
    };
  },
};

let ezra: EzraProcess;
const open: Worker[] = [];

beforeAll(async () => {
  ezra = await startEzra();
});

afterAll(async () => {
  for (const w of open) await w.close();
  expect(await ezra.stop()).toBe(0);
  removeDir(ezra.dataDir);
});

function workerLoopSuite(adapter: Adapter): void {
  const slug = adapter.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
  const queue = (what: string) => `${slug}-${what}`;
  const connect = async (consumer: string) => {
    const w = await adapter.connect(ezra.port, consumer);
    open.push(w);
    return w;
  };
  const idsOf = (entries: Entry[] | null) => (entries ?? []).map((e) => e.id);

  // Queues and consumer names differ per adapter and test, so every scenario runs at once.
  describe.concurrent(`worker loop: ${adapter.name}`, () => {
    test("a restarted worker reads its own pending tasks (0) first, then new ones (>)", async () => {
      const q = queue("restart");
      const first = await connect("w");
      const pushed = [];
      for (const job of ["a", "b", "c"]) pushed.push(await first.push(q, [["job", job]]));
      expect(idsOf(await first.read(q, ">", 2))).toEqual(pushed.slice(0, 2));
      await first.close(); // crashes before acking

      const again = await connect("w");
      const own = await again.read(q, "0", 10);
      expect(idsOf(own)).toEqual(pushed.slice(0, 2));
      expect(own?.[0].fields).toEqual([["job", "a"], ["attempts", "1"], ["max_attempts", "3"]]);
      expect(await again.ack(q, idsOf(own))).toBe(2);
      expect(idsOf(await again.read(q, "0", 10))).toEqual([]);
      const fresh = await again.read(q, ">", 10);
      expect(idsOf(fresh)).toEqual([pushed[2]]);
      expect(await again.ack(q, idsOf(fresh))).toBe(1);
      expect((await again.pending(q)).count).toBe(0);
    }, TEST_MS);

    test("XAUTOCLAIM takes over the work of a crashed consumer", async () => {
      const q = queue("autoclaim");
      const crashed = await connect("crashed");
      const pushed = [await crashed.push(q, [["job", "x"]]), await crashed.push(q, [["job", "y"]])];
      expect(idsOf(await crashed.read(q, ">", 2))).toEqual(pushed);
      await crashed.close();

      const rescuer = await connect("rescuer");
      expect(await rescuer.pending(q)).toEqual({ count: 2, consumers: [["crashed", 2]] });
      // A rescuer's loop: claim what has been idle long enough, page with the cursor, retry later.
      const rescued: Entry[] = [];
      const deadline = Date.now() + EVENT_WAIT_MS;
      while (rescued.length < 2 && Date.now() < deadline) {
        let cursor = "0-0";
        do {
          const page = await rescuer.autoclaim(q, 50, cursor, 10);
          rescued.push(...page.entries);
          cursor = page.next;
        } while (cursor !== "0-0");
        if (rescued.length < 2) await Bun.sleep(20);
      }
      expect(idsOf(rescued)).toEqual(pushed);
      // Taking a task over is a new delivery.
      expect(rescued.map(attempts)).toEqual(["2", "2"]);
      expect(await rescuer.pendingRange(q)).toEqual(pushed.map((id) => ({ id, consumer: "rescuer", deliveries: 2 })));
      expect(await rescuer.ack(q, pushed)).toBe(2);
      expect((await rescuer.pending(q)).count).toBe(0);
    }, TEST_MS);

    test("XCLAIM heartbeats keep a long job's lease: it is not redelivered until they stop", async () => {
      const q = queue("heartbeat");
      const worker = await connect("long-job");
      await worker.configure(q, { visibility_timeout: String(LEASE_SECONDS) });
      const id = await worker.push(q, [["job", "render"]]);
      expect(idsOf(await worker.read(q, ">", 1))).toEqual([id]);

      const competitor = await connect("competitor");
      let waited = false;
      const blocked = competitor.read(q, ">", 1, COMPETITOR_BLOCK_MS).finally(() => (waited = true));
      // The job runs longer than the lease; the heartbeat keeps the task with its worker.
      while (!waited) {
        expect(await worker.heartbeat(q, [id])).toEqual([id]);
        await Bun.sleep(HEARTBEAT_EVERY_MS);
      }
      expect(await blocked).toBeNull();
      expect(await worker.pendingRange(q)).toEqual([{ id, consumer: "long-job", deliveries: 1 }]);

      const seen = await worker.inspect(q);
      expect(seen).toEqual({ groups: [GROUP], consumers: [["competitor", 0], ["long-job", 1]], entries: 1, pelCount: 1 });

      // The worker dies (no more heartbeats): the lease runs out and the task goes to the competitor.
      const redelivered = await competitor.read(q, ">", 1, EVENT_WAIT_MS);
      expect(idsOf(redelivered)).toEqual([id]);
      expect(redelivered?.map(attempts)).toEqual(["2"]);
      expect(await competitor.ack(q, [id])).toBe(1);
    }, TEST_MS);
  });
}


workerLoopSuite(nodeRedis);
workerLoopSuite(ioredis);
describe.skipIf(!requireTool(TOOLS.redisPy, "the redis-py worker loop"))("redis-py", () => workerLoopSuite(redisPy));
