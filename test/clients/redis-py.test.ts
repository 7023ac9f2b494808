// The task lifecycle through redis-py (RESP2), run by Debian's /usr/bin/python3: each scenario
// client is one Python process (py/redis_py_bridge.py) that runs requests and prints JSON.
import type { FileSink } from "bun";
import { join } from "node:path";
import { type ClientAdapter, type Entry, GROUP, lifecycleSuite } from "../helpers/lifecycle.ts";
import { SYSTEM_PYTHON } from "../helpers/servers.ts";

const BRIDGE = join(import.meta.dir, "py", "redis_py_bridge.py");

/** One bridge process: requests in order, one JSON line back for each. */
class Bridge {
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private readonly proc;
  private stderr = "";

  constructor(port: number, consumer: string) {
    this.proc = Bun.spawn([SYSTEM_PYTHON, BRIDGE, String(port), GROUP, consumer], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    void this.readLines(this.proc.stdout);
    void new Response(this.proc.stderr).text().then((text) => (this.stderr = text));
  }

  private async readLines(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const waiter = this.waiting.shift();
        if (waiter) waiter(line);
        else this.lines.push(line);
      }
    }
    // The bridge exited: fail whoever still waits, with Python's own words.
    await this.proc.exited;
    for (const waiter of this.waiting.splice(0)) waiter(JSON.stringify({ error: `bridge exited ${this.proc.exitCode}: ${this.stderr}` }));
  }

  private async answer(): Promise<unknown> {
    const line = this.lines.shift() ?? (await new Promise<string>((resolve) => this.waiting.push(resolve)));
    const reply = JSON.parse(line) as { ok?: unknown; error?: string };
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.ok;
  }

  ready(): Promise<unknown> {
    return this.answer();
  }

  call(op: string, ...args: unknown[]): Promise<unknown> {
    (this.proc.stdin as FileSink).write(`${JSON.stringify({ op, args })}\n`);
    (this.proc.stdin as FileSink).flush();
    return this.answer();
  }

  async close(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }
}

const importable = Bun.spawnSync([SYSTEM_PYTHON, "-c", "import redis"]).exitCode === 0;

let consumers = 0;
const redisPy: ClientAdapter = {
  name: "redis-py",
  protocol: 2,
  async connect(port) {
    const bridge = new Bridge(port, `redis-py-${++consumers}`);
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
