// Real clients in other languages, each a small script (rb/, php/, pl/) run as one process per
// connection through ScriptBridge: the shared task lifecycle (helpers/lifecycle.ts), then a
// crashed worker's tasks seen with XPENDING and taken over with XAUTOCLAIM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ClientAdapter, type Entry, type Fields, GROUP, lifecycleSuite } from "../helpers/lifecycle.ts";
import { type EzraProcess, removeDir, startEzra } from "../helpers/servers.ts";
import { requireTool, type ToolSpec } from "../helpers/tools.ts";
import { ScriptBridge } from "./script-bridge.ts";

export interface BridgedClient {
  /** The library as users name it, e.g. "ruby-redis". */
  name: string;
  /** The interpreter and the bridge script; the bridge adds PORT GROUP CONSUMER. */
  argv: string[];
  tool: ToolSpec;
}

interface PendingSummary {
  count: number;
  first: string | null;
  last: string | null;
  consumers: [string, number][];
}
interface PendingRow {
  id: string;
  consumer: string;
  deliveries: number;
}

/** Per-test limit: the machine is slow and shared, and each connection is an interpreter. */
const TEST_MS = 60_000;
/** Longest wait for the crashed worker's tasks to be idle long enough for XAUTOCLAIM. */
const EVENT_WAIT_MS = 20_000;
const MIN_IDLE_MS = 50;

let consumers = 0;

async function connectBridge(client: BridgedClient, port: number, consumer: string): Promise<ScriptBridge> {
  const bridge = new ScriptBridge(client.argv, port, GROUP, consumer);
  await bridge.ready();
  return bridge;
}

function adapterOf(client: BridgedClient): ClientAdapter {
  return {
    name: client.name,
    protocol: 2,
    async connect(port) {
      const b = await connectBridge(client, port, `${client.name}-${++consumers}`);
      return {
        push: (queue, fields) => b.call<string>("push", queue, fields),
        pop: (queue, { count, blockMs } = {}) => b.call<Entry[] | null>("pop", queue, count ?? null, blockMs ?? null),
        ack: (queue, ids) => b.call<number>("ack", queue, ids),
        nack: async (queue, id, reason) => String(await b.call("nack", queue, id, reason)),
        length: (queue) => b.call<number>("length", queue),
        async configure(queue, settings) {
          await b.call("configure", queue, settings);
        },
        blockedClients: () => b.call<number>("blocked_clients"),
        clientInfo: async () => String(await b.call("client_info")),
        close: () => b.close(),
      };
    },
  };
}

function pendingSuite(client: BridgedClient): void {
  const slug = client.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();

  describe(`${client.name}: XPENDING and XAUTOCLAIM`, () => {
    let ezra: EzraProcess;
    const open: ScriptBridge[] = [];
    const connect = async (consumer: string) => {
      const b = await connectBridge(client, ezra.port, consumer);
      open.push(b);
      return b;
    };
    beforeAll(async () => {
      ezra = await startEzra();
    });
    afterAll(async () => {
      for (const b of open) await b.close();
      expect(await ezra.stop()).toBe(0);
      removeDir(ezra.dataDir);
    });

    test("XPENDING shows a crashed worker's tasks; XAUTOCLAIM hands them to a rescuer as a new delivery", async () => {
      const q = `${slug}-pending`;
      const crashed = await connect("crashed");
      const rescuer = await connect("rescuer");
      // No group yet: the client reports Redis's NOGROUP as its own error type.
      await expect(rescuer.call("pending", q)).rejects.toThrow(`NOGROUP No such key '${q}' or consumer group '${GROUP}'`);
      const jobs: Fields[] = [[["job", "x"], ["to", "ada"]], [["job", "y"]]];
      const ids = [await crashed.call<string>("push", q, jobs[0]), await crashed.call<string>("push", q, jobs[1])];
      expect((await crashed.call<Entry[]>("pop", q, 2, null)).map((e) => e.id)).toEqual(ids);
      await crashed.close(); // dies holding both tasks

      expect(await rescuer.call<PendingSummary>("pending", q)).toEqual({ count: 2, first: ids[0], last: ids[1], consumers: [["crashed", 2]] });
      expect(await rescuer.call<PendingRow[]>("pending_range", q)).toEqual(ids.map((id) => ({ id, consumer: "crashed", deliveries: 1 })));

      // A rescuer's loop: claim what has been idle long enough, page with the cursor, retry later.
      const rescued: Entry[] = [];
      const deadline = Date.now() + EVENT_WAIT_MS;
      while (rescued.length < 2 && Date.now() < deadline) {
        let cursor = "0-0";
        do {
          const page = await rescuer.call<{ next: string; entries: Entry[] }>("autoclaim", q, MIN_IDLE_MS, cursor, 10);
          rescued.push(...page.entries);
          cursor = page.next;
        } while (cursor !== "0-0");
        if (rescued.length < 2) await Bun.sleep(20);
      }
      // Taking a task over is a new delivery: attempts 2 (of the default 3).
      expect(rescued).toEqual(ids.map((id, i) => ({ id, fields: [...jobs[i], ["attempts", "2"], ["max_attempts", "3"]] })));
      expect(await rescuer.call<PendingRow[]>("pending_range", q)).toEqual(ids.map((id) => ({ id, consumer: "rescuer", deliveries: 2 })));
      expect(await rescuer.call<number>("ack", q, ids)).toBe(2);
      expect(await rescuer.call<PendingSummary>("pending", q)).toEqual({ count: 0, first: null, last: null, consumers: [] });
    }, TEST_MS);
  });
}

/** Call at a test file's top level: the lifecycle and pending suites, or one skip line. */
export function bridgedClientSuites(client: BridgedClient): void {
  if (!requireTool(client.tool, `${client.name} client tests`)) return;
  lifecycleSuite(adapterOf(client));
  pendingSuite(client);
}
