// The task lifecycle of DESIGN.md as one client-independent scenario, run against a real ezra
// server: each real client supplies a small adapter, and the same tests run through all of them.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { type EzraProcess, removeDir, startEzra, tempDir } from "./servers.ts";

export type Fields = [string, string][];
export interface Entry {
  id: string;
  fields: Fields;
}

/** One connection of a real client (redis-cli: one process, so one connection, per call). */
export interface QueueClient {
  push(queue: string, fields: Fields): Promise<string>;
  /** XREADGROUP GROUP g <consumer> [COUNT n] [BLOCK ms] STREAMS queue >; null when nothing came. */
  pop(queue: string, options?: { count?: number; blockMs?: number }): Promise<Entry[] | null>;
  ack(queue: string, ids: string[]): Promise<number>;
  /** XNACK queue g id REASON reason, through the client's raw-command API; resolves to "OK". */
  nack(queue: string, id: string, reason: string): Promise<string>;
  length(queue: string): Promise<number>;
  /** EZRA CONFIG SET queue name value ..., through the raw-command API. */
  configure(queue: string, settings: Record<string, string>): Promise<void>;
  /** blocked_clients from INFO clients. */
  blockedClients(): Promise<number>;
  /** The CLIENT INFO line of this connection (it names the protocol: resp=2|3). */
  clientInfo(): Promise<string>;
  close(): Promise<void>;
}

export interface ClientAdapter {
  name: string;
  /** The RESP version the client negotiates (RESP3 clients send HELLO 3). */
  protocol: 2 | 3;
  connect(port: number): Promise<QueueClient>;
}

export const GROUP = "g";
/** Server-wide max attempts for the scenario: the second failed delivery makes a task dead. */
const SERVER_ARGS = ["--max-attempts", "2"];
/** Per-test time limit: a restart spawns two servers, and the machine is slow and shared. */
const TEST_MS = 60_000;
/** How long a test waits for a worker to show up as blocked before failing. */
const BLOCKED_WAIT_MS = 20_000;
/** BLOCK for reads that must be woken (by a push, a lease expiry): long, never reached. */
const WAKE_BLOCK_MS = 30_000;

const delivered = (fields: Fields, attempts: number, maxAttempts = 2): Fields => [
  ...fields,
  ["attempts", String(attempts)],
  ["max_attempts", String(maxAttempts)],
];

/** Waits (polling INFO, not sleeping as an assertion) until `count` clients are blocked. */
async function untilBlocked(client: QueueClient, count: number): Promise<void> {
  const deadline = Date.now() + BLOCKED_WAIT_MS;
  while ((await client.blockedClients()) < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} blocked clients after ${BLOCKED_WAIT_MS} ms`);
    await Bun.sleep(5);
  }
}

function idOrder(a: string, b: string): number {
  const [am, as] = a.split("-").map(BigInt);
  const [bm, bs] = b.split("-").map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

export function lifecycleSuite(adapter: ClientAdapter): void {
  const slug = adapter.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
  const queue = (what: string) => `${slug}-${what}`;

  describe(`${adapter.name}: task lifecycle`, () => {
    let ezra: EzraProcess;
    let open: QueueClient[] = [];
    const connect = async (port = ezra.port) => {
      const client = await adapter.connect(port);
      open.push(client);
      return client;
    };
    const closeAll = async () => {
      const clients = open;
      open = [];
      await Promise.all(clients.map((c) => c.close()));
    };

    beforeAll(async () => {
      ezra = await startEzra({ args: SERVER_ARGS });
    });
    afterEach(closeAll);
    afterAll(async () => {
      expect(await ezra.stop()).toBe(0);
      removeDir(ezra.dataDir);
    });

    test(`the client speaks RESP${adapter.protocol}`, async () => {
      const client = await connect();
      expect(await client.clientInfo()).toContain(` resp=${adapter.protocol} `);
    }, TEST_MS);

    test("push and pop: fields verbatim and in order, then attempts and max_attempts", async () => {
      const [producer, worker] = [await connect(), await connect()];
      const q = queue("push-pop");
      const first: Fields = [
        ["name", "Ada"],
        ["zeta", "pushed before alpha"],
        ["alpha", "and stays after zeta"],
        ["json", '{"to":["a@b.c"],"n":1.5}'],
        ["text", "héllo ✓ with\r\nCRLF\tand tab"],
        ["empty", ""],
      ];
      const second: Fields = [["job", "two"]];
      const id1 = await producer.push(q, first);
      const id2 = await producer.push(q, second);
      // The reserved max_attempts field sets the task's own limit and is not stored as a field.
      const id3 = await producer.push(q, [["job", "three"], ["max_attempts", "5"]]);
      expect(id1).toMatch(/^\d+-\d+$/);
      expect(idOrder(id1, id2)).toBe(-1);
      expect(idOrder(id2, id3)).toBe(-1);
      expect(await producer.length(q)).toBe(3);

      expect(await worker.pop(q, { count: 10 })).toEqual([
        { id: id1, fields: delivered(first, 1) },
        { id: id2, fields: delivered(second, 1) },
        { id: id3, fields: delivered([["job", "three"]], 1, 5) },
      ]);
      expect(await producer.length(q)).toBe(0);
      expect(await worker.pop(q)).toBeNull();
      expect(await worker.ack(q, [id1, id2, id3])).toBe(3);
    }, TEST_MS);

    test("BLOCK 0 waits until a push from another connection; blocked workers are served oldest first", async () => {
      const producer = await connect();
      const [older, newer] = [await connect(), await connect()];
      const q = queue("block-0");
      const before = await producer.blockedClients();
      const olderPop = older.pop(q, { blockMs: 0 });
      await untilBlocked(producer, before + 1);
      const newerPop = newer.pop(q, { blockMs: 0 });
      await untilBlocked(producer, before + 2);

      const id1 = await producer.push(q, [["wake", "older"]]);
      expect(await olderPop).toEqual([{ id: id1, fields: delivered([["wake", "older"]], 1) }]);
      const id2 = await producer.push(q, [["wake", "newer"]]);
      expect(await newerPop).toEqual([{ id: id2, fields: delivered([["wake", "newer"]], 1) }]);
      expect(await producer.ack(q, [id1, id2])).toBe(2);
    }, TEST_MS);

    test("BLOCK ms is woken by a push from another connection, and times out with null", async () => {
      const [producer, worker] = [await connect(), await connect()];
      const q = queue("block-ms");
      const before = await producer.blockedClients();
      const popping = worker.pop(q, { blockMs: WAKE_BLOCK_MS });
      await untilBlocked(producer, before + 1);
      const id = await producer.push(q, [["wake", "up"]]);
      expect(await popping).toEqual([{ id, fields: delivered([["wake", "up"]], 1) }]);
      expect(await worker.ack(q, [id])).toBe(1);

      expect(await worker.pop(q, { blockMs: 50 })).toBeNull();
    }, TEST_MS);

    test("XACK with several ids counts the tasks it acknowledged", async () => {
      const client = await connect();
      const q = queue("ack");
      const ids = [await client.push(q, [["n", "a"]]), await client.push(q, [["n", "b"]]), await client.push(q, [["n", "c"]])];
      expect((await client.pop(q, { count: 3 }))?.map((e) => e.id)).toEqual(ids);
      expect(await client.ack(q, [ids[0], ids[2]])).toBe(2);
      // Acked already, or never existed: not counted.
      expect(await client.ack(q, [ids[0], ids[1], "1-999"])).toBe(1);
      expect(await client.ack(q, ids)).toBe(0);
      expect(await client.length(q)).toBe(0);
      expect(await client.pop(q)).toBeNull();
    }, TEST_MS);

    test("XNACK with a reason returns the task, delivered again with attempts 2", async () => {
      const client = await connect();
      const q = queue("nack");
      const fields: Fields = [["job", "flaky"], ["try", "again"]];
      const id = await client.push(q, fields);
      expect(await client.pop(q)).toEqual([{ id, fields: delivered(fields, 1) }]);
      expect(await client.nack(q, id, "boom")).toBe("OK");
      expect(await client.length(q)).toBe(1);
      expect(await client.pop(q)).toEqual([{ id, fields: delivered(fields, 2) }]);
      expect(await client.ack(q, [id])).toBe(1);
      await expect(client.nack(q, id, "too late")).rejects.toThrow(/not in flight/);
    }, TEST_MS);

    test("a task out of attempts moves to <queue>::dead, which can be claimed, nacked and acked", async () => {
      const client = await connect();
      const q = queue("dead");
      const dead = `${q}::dead`;
      const fields: Fields = [["job", "doomed"]];
      const id = await client.push(q, fields);
      for (const attempt of [1, 2]) {
        expect(await client.pop(q)).toEqual([{ id, fields: delivered(fields, attempt) }]);
        expect(await client.nack(q, id, `boom ${attempt}`)).toBe("OK");
      }
      expect(await client.length(q)).toBe(0);
      expect(await client.length(dead)).toBe(1);
      expect(await client.pop(q)).toBeNull();

      expect(await client.pop(dead)).toEqual([{ id, fields: delivered(fields, 2) }]);
      expect(await client.length(dead)).toBe(0);
      expect(await client.nack(dead, id, "still broken")).toBe("OK");
      expect(await client.length(dead)).toBe(1);
      expect((await client.pop(dead))?.map((e) => e.id)).toEqual([id]);
      expect(await client.ack(dead, [id])).toBe(1);
      expect(await client.length(dead)).toBe(0);
      expect(await client.pop(dead)).toBeNull();
    }, TEST_MS);

    test("lease expiry: an unacked task is delivered again after the visibility timeout, then goes dead", async () => {
      const [producer, worker] = [await connect(), await connect()];
      const q = queue("lease");
      await producer.configure(q, { visibility_timeout: "0.3" });
      const fields: Fields = [["job", "slow"]];
      const id = await producer.push(q, fields);
      expect(await worker.pop(q)).toEqual([{ id, fields: delivered(fields, 1) }]);
      // Not acked: the lease runs out and the blocked read below is woken by the redelivery.
      expect(await worker.pop(q, { blockMs: WAKE_BLOCK_MS })).toEqual([{ id, fields: delivered(fields, 2) }]);
      // The second lease runs out with no attempts left: the task turns up on the dead view.
      expect(await worker.pop(`${q}::dead`, { blockMs: WAKE_BLOCK_MS })).toEqual([{ id, fields: delivered(fields, 2) }]);
      expect(await worker.ack(`${q}::dead`, [id])).toBe(1);
      expect(await producer.length(q)).toBe(0);
    }, TEST_MS);

    for (const how of ["SIGTERM", "SIGKILL"] as const) {
      test(`a restart after ${how} delivers every unacked task again and no acked one`, async () => {
        const dataDir = tempDir();
        let server = await startEzra({ dataDir, args: SERVER_ARGS });
        try {
          const q = queue(`restart-${how}`);
          let client = await connect(server.port);
          const ids: string[] = [];
          for (const job of ["j0", "j1", "j2", "j3", "j4"]) ids.push(await client.push(q, [["job", job]]));
          // j0 done, j1 and j2 in flight (a worker mid-task when the server goes down), j3 and j4 waiting.
          expect((await client.pop(q, { count: 3 }))?.map((e) => e.id)).toEqual(ids.slice(0, 3));
          expect(await client.ack(q, [ids[0]])).toBe(1);
          await closeAll();
          if (how === "SIGTERM") expect(await server.stop()).toBe(0);
          else await server.kill();

          server = await startEzra({ dataDir, args: SERVER_ARGS });
          client = await connect(server.port);
          expect(await client.length(q)).toBe(4);
          // A clean stop writes every delivery; a kill -9 within --claim-write-delay (1 s) of
          // the delivery forgets it, so that attempt is not counted (docs/reliability.md).
          const before = how === "SIGTERM" ? 1 : 0;
          expect(await client.pop(q, { count: 10 })).toEqual([
            { id: ids[1], fields: delivered([["job", "j1"]], before + 1) },
            { id: ids[2], fields: delivered([["job", "j2"]], before + 1) },
            { id: ids[3], fields: delivered([["job", "j3"]], 1) },
            { id: ids[4], fields: delivered([["job", "j4"]], 1) },
          ]);
          expect(await client.ack(q, ids)).toBe(4);
          expect(await client.pop(q)).toBeNull();
          await closeAll();
        } finally {
          await closeAll();
          await server.stop();
          removeDir(dataDir);
        }
      }, TEST_MS);
    }
  });
}
