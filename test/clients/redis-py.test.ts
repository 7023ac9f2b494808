// The task lifecycle through redis-py (RESP2), run by Debian's /usr/bin/python3: each scenario
// client is one Python process (py/redis_py_bridge.py) that runs requests and prints JSON.
import { join } from "node:path";
import { type ClientAdapter, type Entry, GROUP, lifecycleSuite } from "../helpers/lifecycle.ts";
import { PyBridge } from "../helpers/py-bridge.ts";
import { SYSTEM_PYTHON } from "../helpers/servers.ts";

const BRIDGE = join(import.meta.dir, "py", "redis_py_bridge.py");

const importable = Bun.spawnSync([SYSTEM_PYTHON, "-c", "import redis"]).exitCode === 0;

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

if (importable) lifecycleSuite(redisPy);
else console.warn(`skipping redis-py tests: ${SYSTEM_PYTHON} cannot import redis (.ci/run installs python3-redis with apt-get)`);
