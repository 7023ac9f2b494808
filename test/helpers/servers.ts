// Starts real servers for end-to-end tests: ezra as a child process on a free loopback port
// (parsed from its startup line), and redis-server for differential tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = join(import.meta.dir, "..", "..");
export const BUN = process.execPath;

export interface EzraProcess {
  port: number;
  dataDir: string;
  proc: Subprocess;
  output(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number>;
  /** SIGKILL and wait (a crash). */
  kill(): Promise<void>;
}

export function tempDir(prefix = "ezra-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Servers started here and not yet exited. A test that fails before its stop() would leave its
 * server running after the suite (found: disk-full servers still up an hour later), so the
 * suite's last hook (test/setup.ts, preloaded by bunfig.toml) kills what is left. bun test runs
 * no process 'exit' handler, hence the hook.
 */
const running = new Set<{ kill(signal?: number | string): void }>();

export function killLeftoverServers(): void {
  for (const proc of running) proc.kill("SIGKILL");
  running.clear();
}

/** Runs `bun src/main.ts --port 0 ...` (or a given executable) and waits for "listening on". */
export async function startEzra(
  options: { dataDir?: string; args?: string[]; env?: Record<string, string>; command?: string[] } = {},
): Promise<EzraProcess> {
  const dataDir = options.dataDir ?? tempDir();
  const command = options.command ?? [BUN, join(ROOT, "src", "main.ts")];
  const proc = Bun.spawn([...command, "--data-dir", dataDir, "--port", "0", ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk);
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>);
  void collect(proc.stderr as ReadableStream<Uint8Array>);
  const deadline = Date.now() + 15_000;
  let port = 0;
  while (Date.now() < deadline) {
    const m = /listening on \S+:\/\/[^\s]+:(\d+)/.exec(text);
    if (m) {
      port = Number(m[1]);
      break;
    }
    if (proc.exitCode !== null) throw new Error(`ezra exited with ${proc.exitCode}: ${text}`);
    await Bun.sleep(10);
  }
  if (!port) {
    proc.kill("SIGKILL");
    throw new Error(`ezra did not start in time: ${text}`);
  }
  return {
    port,
    dataDir,
    proc,
    output: () => text,
    async stop() {
      proc.kill("SIGTERM");
      return await proc.exited;
    },
    async kill() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

export interface RedisProcess {
  port: number;
  stop(): Promise<void>;
}

/** Picks a free loopback port by binding port 0 and releasing it. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Starts redis-server without persistence on a free loopback port (check TOOLS.redisServer first). */
export async function startRedis(extraArgs: string[] = []): Promise<RedisProcess> {
  const dir = tempDir("ezra-redis-");
  const port = freePort();
  const proc = Bun.spawn(
    ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extraArgs],
    { stdout: "ignore", stderr: "ignore" },
  );
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      return {
        port,
        async stop() {
          proc.kill("SIGKILL");
          await proc.exited;
          removeDir(dir);
        },
      };
    } catch {
      await Bun.sleep(20);
    }
  }
  proc.kill("SIGKILL");
  throw new Error("redis-server did not start");
}
