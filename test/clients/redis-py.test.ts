// The task lifecycle through redis-py (RESP2), run by Debian's /usr/bin/python3: each scenario
// client is one Python process (py/redis_py_bridge.py) that runs requests and prints JSON.
import { describe } from "bun:test";
import { join } from "node:path";
import { type ClientAdapter, type Entry, GROUP, lifecycleSuite } from "../helpers/lifecycle.ts";
import { PyBridge } from "../helpers/py-bridge.ts";
import { requireTool, TOOLS } from "../helpers/tools.ts";

const BRIDGE = join(import.meta.dir, "py", "redis_py_bridge.py");

let consumers = 0;
const redisPy: ClientAdapter = {
  name: "redis-py",
  protocol: 2,
  async connect(port) {
    const bridge = new PyBridge(BRIDGE, port, GROUP, `redis-py-${++consumers}`);
    await bridge.ready();
    return {
      push: async (queue, fields) => (await bridge.call("push", queue, fields)) as string,
      pop: async (queue, { count, blockMs } = {}) => (await bridge.call("pop", queue, count ?? null, blockMs ?? null)) as Entry[] | null,
      ack: async (queue, ids) => (await bridge.call("ack", queue, ids)) as number,
      nack: async (queue, id, reason) => String(await bridge.call("nack", queue, id, reason)),
      length: async (queue) => (await bridge.call("length", queue)) as number,
      async configure(queue, settings) {
        await bridge.call("configure", queue, settings);
      },
      blockedClients: async () => (await bridge.call("blocked_clients")) as number,
      clientInfo: async () => String(await bridge.call("client_info")),
      close: () => bridge.close(),
    };
  },
};

describe.skipIf(!requireTool(TOOLS.redisPy, "the redis-py tests"))("redis-py", () => lifecycleSuite(redisPy));
