// The task lifecycle through node-redis (the `redis` package), once over RESP2 and once over
// RESP3 (`createClient({ RESP: 3 })`, which sends HELLO 3 and gets maps and `_` nulls back).
import { createClient } from "redis";
import { type ClientAdapter, type Fields, GROUP, lifecycleSuite } from "../helpers/lifecycle.ts";

function nodeRedis(RESP: 2 | 3): ClientAdapter {
  let consumers = 0;
  return {
    name: `node-redis RESP${RESP}`,
    protocol: RESP,
    async connect(port) {
      const client = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, RESP });
      client.on("error", () => {}); // a failed command rejects its own promise; nothing to add
      await client.connect();
      const consumer = `node-redis-${++consumers}`;
      return {
        push: (queue, fields) => client.xAdd(queue, "*", Object.fromEntries(fields)),
        async pop(queue, { count, blockMs } = {}) {
          const reply = await client.xReadGroup(GROUP, consumer, { key: queue, id: ">" }, { COUNT: count, BLOCK: blockMs });
          if (reply === null) return null;
          // node-redis turns each entry's fields into an object; insertion order is kept for
          // non-numeric names, which is all the scenario uses.
          return (reply as { messages: { id: string; message: Record<string, string> }[] }[]).flatMap((stream) =>
            stream.messages.map((m) => ({ id: m.id, fields: Object.entries(m.message) as Fields })),
          );
        },
        ack: (queue, ids) => client.xAck(queue, GROUP, ids),
        nack: async (queue, id, reason) => String(await client.sendCommand(["XNACK", queue, GROUP, id, "REASON", reason])),
        length: (queue) => client.xLen(queue),
        async configure(queue, settings) {
          await client.sendCommand(["EZRA", "CONFIG", "SET", queue, ...Object.entries(settings).flat()]);
        },
        blockedClients: async () => Number(/blocked_clients:(\d+)/.exec(String(await client.info("clients")))?.[1]),
        clientInfo: async () => String(await client.sendCommand(["CLIENT", "INFO"])),
        async close() {
          if (client.isOpen) client.destroy();
        },
      };
    },
  };
}

lifecycleSuite(nodeRedis(2));
lifecycleSuite(nodeRedis(3));
