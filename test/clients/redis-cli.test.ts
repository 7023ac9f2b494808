// The task lifecycle through redis-cli, one process (so one connection) per command, over RESP2
// (`-2`) and RESP3 (`-3`, which sends HELLO 3); replies are read from its --json output.
// A last test checks the plain output a person typing redis-cli commands sees.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { type ClientAdapter, type Entry, type Fields, GROUP, lifecycleSuite } from "../helpers/lifecycle.ts";
import { type EzraProcess, removeDir, startEzra } from "../helpers/servers.ts";
import { requireTool, TOOLS } from "../helpers/tools.ts";

type Flat = [string, string[]][];

function toFields(flat: string[]): Fields {
  const fields: Fields = [];
  for (let i = 0; i < flat.length; i += 2) fields.push([flat[i], flat[i + 1]]);
  return fields;
}

/** XREADGROUP as --json prints it: RESP2 [[stream, entries]], RESP3 {stream: entries}, or null. */
function entries(reply: unknown): Entry[] | null {
  if (reply === null) return null;
  const streams: Flat[] = Array.isArray(reply) ? reply.map(([, messages]) => messages) : Object.values(reply as Record<string, Flat>);
  return streams.flatMap((messages) => messages.map(([id, flat]) => ({ id, fields: toFields(flat) })));
}

function redisCli(protocol: 2 | 3): ClientAdapter {
  let consumers = 0;
  return {
    name: `redis-cli -${protocol}`,
    protocol,
    async connect(port) {
      const running = new Set<Subprocess>();
      const consumer = `redis-cli-${++consumers}`;
      /** Runs one command in its own redis-cli; an error reply or a failed run rejects. */
      const run = async (args: (string | number)[], json = true): Promise<unknown> => {
        const argv = ["redis-cli", "-h", "127.0.0.1", "-p", String(port), `-${protocol}`, ...(json ? ["--json"] : []), ...args.map(String)];
        const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
        running.add(proc);
        const [out, err, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
        running.delete(proc);
        // redis-cli exits 0 after an error reply and prints it as `error:"..."` (--json) or `ERR ...`.
        if (code !== 0 || /^(error:|\(error\))/.test(out)) throw new Error(`${args.join(" ")}: exit ${code}: ${out}${err}`);
        return json ? JSON.parse(out) : out;
      };
      const readOpts = (count?: number, blockMs?: number) => [...(count ? ["COUNT", count] : []), ...(blockMs !== undefined ? ["BLOCK", blockMs] : [])];
      return {
        push: async (queue, fields) => (await run(["XADD", queue, "*", ...fields.flat()])) as string,
        pop: async (queue, { count, blockMs } = {}) =>
          entries(await run(["XREADGROUP", "GROUP", GROUP, consumer, ...readOpts(count, blockMs), "STREAMS", queue, ">"])),
        ack: async (queue, ids) => (await run(["XACK", queue, GROUP, ...ids])) as number,
        nack: async (queue, id, reason) => String(await run(["XNACK", queue, GROUP, id, "REASON", reason])),
        length: async (queue) => (await run(["XLEN", queue])) as number,
        async configure(queue, settings) {
          await run(["EZRA", "CONFIG", "SET", queue, ...Object.entries(settings).flat()]);
        },
        // redis-cli prints INFO and CLIENT INFO as text even with --json.
        blockedClients: async () => Number(/blocked_clients:(\d+)/.exec(String(await run(["INFO", "clients"], false)))?.[1]),
        clientInfo: async () => String(await run(["CLIENT", "INFO"], false)),
        async close() {
          for (const proc of running) proc.kill("SIGKILL");
          await Promise.all([...running].map((p) => p.exited));
        },
      };
    },
  };
}

describe.skipIf(!requireTool(TOOLS.redisCli, "the redis-cli tests"))("redis-cli", () => {
  lifecycleSuite(redisCli(2));
  lifecycleSuite(redisCli(3));

  describe("redis-cli: plain output", () => {
    let ezra: EzraProcess;
    beforeAll(async () => {
      ezra = await startEzra();
    });
    afterAll(async () => {
      expect(await ezra.stop()).toBe(0);
      removeDir(ezra.dataDir);
    });
    const cli = async (...args: string[]) => {
      const proc = Bun.spawn(["redis-cli", "-p", String(ezra.port), ...args], { stdout: "pipe", stderr: "pipe" });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      return out;
    };

    test("push, pop and ack print what a Redis user expects", async () => {
      const id = (await cli("XADD", "emails", "*", "to", "ada@example.com", "subject", "hi")).trim();
      expect(id).toMatch(/^\d+-\d+$/);
      // Not a terminal: redis-cli prints one reply element per line.
      expect(await cli("XREADGROUP", "GROUP", "g", "w", "STREAMS", "emails", ">")).toBe(
        ["emails", id, "to", "ada@example.com", "subject", "hi", "attempts", "1", "max_attempts", "3", ""].join("\n"),
      );
      expect(await cli("--no-raw", "XACK", "emails", "g", id)).toBe("(integer) 1\n");
      expect(await cli("--no-raw", "XREADGROUP", "GROUP", "g", "w", "BLOCK", "10", "STREAMS", "emails", ">")).toBe("(nil)\n");
    }, 30_000);
  });
});
