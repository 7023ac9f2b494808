// Starts and stops the servers under test (ezra from source or binary, redis-server with and
// without an fsync-always AOF) on free loopback ports, and reads their RSS and CPU from /proc.
// Every child and temp dir is registered so that exit, an error or Ctrl-C cleans them all up.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { RespClient } from "./client.ts";

export const ROOT = join(import.meta.dir, "..", "..");
const START_TIMEOUT_MS = 30_000;
const CONNECT_RETRY_MS = 5;
const STOP_TIMEOUT_MS = 10_000;
/** Connections the servers accept: room for the 10,000-connection measure plus the bench's own. */
export const CONNECTIONS_ALLOWED = 10_100;

export type ServerKind = "ezra" | "redis";

export interface TargetSpec {
  /** As given to --servers: ezra-full, ezra-normal, ezra-bin-full, ezra-bin-normal, redis, redis-aof. */
  name: string;
  kind: ServerKind;
  command: (port: number, dataDir: string) => string[];
}

export interface RunningServer {
  target: TargetSpec;
  port: number;
  pid: number;
  dataDir: string;
  /** Milliseconds from spawn to the first PONG. */
  startMs: number;
  stop(): Promise<void>;
}

const children = new Set<Subprocess>();
const dirs = new Set<string>();
const logs = new Set<string>();

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Kills every child still running and removes temp dirs; safe to call more than once. */
export function cleanupAll(): void {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  for (const dir of [...dirs]) removeDir(dir);
  for (const path of logs) rmSync(path, { force: true });
  logs.clear();
}

export function targets(binary: string): Map<string, TargetSpec> {
  const ezra = (name: string, exe: string[], durability: string): TargetSpec => ({
    name,
    kind: "ezra",
    command: (port, dataDir) => [
      ...exe, "--data-dir", dataDir, "--port", String(port), "--durability", durability,
      "--connections-max", String(CONNECTIONS_ALLOWED),
    ],
  });
  const source = [process.execPath, join(ROOT, "src", "main.ts")];
  const redis = (name: string, persistence: string[]): TargetSpec => ({
    name,
    kind: "redis",
    command: (port, dataDir) => [
      "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", dataDir,
      "--maxclients", String(CONNECTIONS_ALLOWED), "--save", "", ...persistence,
    ],
  });
  const list = [
    ezra("ezra-full", source, "full"),
    ezra("ezra-normal", source, "normal"),
    ezra("ezra-bin-full", [binary], "full"),
    ezra("ezra-bin-normal", [binary], "normal"),
    redis("redis", ["--appendonly", "no"]),
    redis("redis-aof", ["--appendonly", "yes", "--appendfsync", "always"]),
  ];
  return new Map(list.map((t) => [t.name, t]));
}

/** Picks a free loopback port by binding port 0 and releasing it. */
function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Waits until `port` answers PING; returns false if `proc` exits or time runs out. */
export async function waitForPong(port: number, proc: Subprocess, timeoutMs = START_TIMEOUT_MS): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline && proc.exitCode === null) {
    try {
      const client = await RespClient.connect(port);
      const reply = await client.call(["PING"]);
      client.close();
      if (reply === "PONG") return true;
    } catch {
      // not listening yet
    }
    await Bun.sleep(CONNECT_RETRY_MS);
  }
  return false;
}

/** Starts `target` in `dataDir` (a fresh temp dir when omitted) and waits for its first PONG. */
export async function startServer(target: TargetSpec, dataDir?: string): Promise<RunningServer> {
  const dir = dataDir ?? tempDir(`ezra-bench-${target.name}-`);
  const logPath = join(dir, "..", `${dir.split("/").pop()}.log`);
  logs.add(logPath);
  for (let attempt = 1; ; attempt++) {
    const port = freePort();
    const began = performance.now();
    const proc = Bun.spawn(target.command(port, dir), { cwd: ROOT, stdout: Bun.file(logPath), stderr: Bun.file(logPath) });
    children.add(proc);
    if (await waitForPong(port, proc)) {
      const startMs = performance.now() - began;
      return {
        target,
        port,
        pid: proc.pid,
        dataDir: dir,
        startMs,
        async stop() {
          proc.kill("SIGTERM");
          // A server that does not stop in time is killed (the timer must not outlive the wait).
          const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
          await proc.exited;
          clearTimeout(timer);
          children.delete(proc);
          if (!dataDir) removeDir(dir);
          rmSync(logPath, { force: true });
        },
      };
    }
    proc.kill("SIGKILL");
    await proc.exited;
    children.delete(proc);
    // Another process may have taken the free port between our check and the server's bind.
    if (attempt >= 3) {
      let log = "";
      try {
        log = readFileSync(logPath, "utf8").slice(-2000);
      } catch {}
      rmSync(logPath, { force: true });
      throw new Error(`${target.name} did not start (exit ${proc.exitCode}): ${log}`);
    }
  }
}

/** Resident set size of a process, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) * 1024;
}

// Kernel clock ticks per second (utime/stime unit); 100 on every mainstream Linux build.
const CLOCK_TICKS_PER_SECOND = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** User + system CPU seconds a process has used (all its threads), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the ")" that closes the command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}
