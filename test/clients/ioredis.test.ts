// The task lifecycle through ioredis, over RESP2 (`protocol: 2`) and over RESP3, ioredis 6's
// default (HELLO 3, with its "legacy" reply mapping that gives RESP2-shaped arrays back).
import Redis from "ioredis";
import { type ClientAdapter, type Entry, type Fields, GROUP, lifecycleSuite } from "../helpers/lifecycle.ts";

type RawStreams = [string, [string, string[]][]][] | null;

/** ioredis replies with Redis's raw arrays: [[stream, [[id, [field, value, ...]], ...]], ...]. */
function entries(reply: RawStreams): Entry[] | null {
  if (reply === null) return null;
  return reply.flatMap(([, messages]) =>
    messages.map(([id, flat]) => {
      const fields: Fields = [];
      for (let i = 0; i < flat.length; i += 2) fields.push([flat[i], flat[i + 1]]);
      return { id, fields };
    }),
  );
}

let consumers = 0;
const ioredis = (protocol: 2 | 3): ClientAdapter => ({
  name: `ioredis RESP${protocol}`,
  protocol,
  async connect(port) {
    const client = new Redis({ host: "127.0.0.1", port, protocol, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => {}); // a failed command rejects its own promise; nothing to add
    await client.connect();
    const consumer = `ioredis-${++consumers}`;
    return {
      push: async (queue, fields) => (await client.xadd(queue, "*", ...fields.flat())) as string,
      async pop(queue, { count, blockMs } = {}) {
        const options = [...(count ? ["COUNT", count] : []), ...(blockMs !== undefined ? ["BLOCK", blockMs] : [])];
        const reply = await client.xreadgroup("GROUP", GROUP, consumer, ...(options as ["COUNT", number]), "STREAMS", queue, ">");
        return entries(reply as RawStreams);
      },
      ack: (queue, ids) => client.xack(queue, GROUP, ...ids),
      nack: async (queue, id, reason) => String(await client.call("XNACK", queue, GROUP, id, "REASON", reason)),
      length: (queue) => client.xlen(queue),
      async configure(queue, settings) {
        await client.call("EZRA", "CONFIG", "SET", queue, ...Object.entries(settings).flat());
      },
      blockedClients: async () => Number(/blocked_clients:(\d+)/.exec(await client.info("clients"))?.[1]),
      clientInfo: async () => String(await client.call("CLIENT", "INFO")),
      async close() {
        client.disconnect();
      },
    };
  },
});

lifecycleSuite(ioredis(2));
lifecycleSuite(ioredis(3));
