// The task lifecycle through Bun's built-in RedisClient, which always speaks RESP3 (HELLO 3):
// XREADGROUP comes back as a map, turned into a plain object keyed by stream name.
import { RedisClient } from "bun";
import { type ClientAdapter, type Entry, type Fields, GROUP, lifecycleSuite } from "../helpers/lifecycle.ts";

type MapStreams = Record<string, [string, string[]][]> | null;

function entries(reply: MapStreams): Entry[] | null {
  if (reply === null) return null;
  return Object.values(reply).flatMap((messages) =>
    messages.map(([id, flat]) => {
      const fields: Fields = [];
      for (let i = 0; i < flat.length; i += 2) fields.push([flat[i], flat[i + 1]]);
      return { id, fields };
    }),
  );
}

let consumers = 0;
const bunRedis: ClientAdapter = {
  name: "Bun RedisClient",
  protocol: 3,
  async connect(port) {
    const client = new RedisClient(`redis://127.0.0.1:${port}`, { autoReconnect: false, enableOfflineQueue: false });
    await client.connect();
    const consumer = `bun-${++consumers}`;
    return {
      push: async (queue, fields) => (await client.xadd(queue, "*", ...fields.flat())) as string,
      async pop(queue, { count, blockMs } = {}) {
        const options = [...(count ? ["COUNT", count] : []), ...(blockMs !== undefined ? ["BLOCK", blockMs] : [])];
        return entries(await client.xreadgroup("GROUP", GROUP, consumer, ...options, "STREAMS", queue, ">"));
      },
      ack: (queue, ids) => client.xack(queue, GROUP, ids[0], ...ids.slice(1)),
      nack: async (queue, id, reason) => String(await client.send("XNACK", [queue, GROUP, id, "REASON", reason])),
      length: (queue) => client.xlen(queue),
      async configure(queue, settings) {
        await client.send("EZRA", ["CONFIG", "SET", queue, ...Object.entries(settings).flat()]);
      },
      blockedClients: async () => Number(/blocked_clients:(\d+)/.exec(String(await client.send("INFO", ["clients"])))?.[1]),
      clientInfo: async () => String(await client.send("CLIENT", ["INFO"])),
      async close() {
        client.close();
      },
    };
  },
};

lifecycleSuite(bunRedis);
