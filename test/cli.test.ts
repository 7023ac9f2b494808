// The `ezra` command line as a user meets it: --help, one-line errors with exit code 2 for bad
// settings, EZRA_* env vars under flags, the data-dir lock, the startup line, and clean
// shutdown on SIGTERM/SIGINT that answers a client blocked in XREADGROUP BLOCK 0.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { createClient } from "redis";
import { OPTIONS } from "../src/config.ts";
import pkg from "../package.json" with { type: "json" };
import { BUN, freePort, ROOT, removeDir, startEzra, tempDir } from "./helpers/servers.ts";

const MAIN = join(ROOT, "src", "main.ts");
/** A CLI run that should end by itself; killed after this long so a hang fails, not stalls. */
const RUN_MS = 20_000;
const TEST_MS = 30_000;
/** The environment without the developer's own EZRA_* settings. */
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EZRA_"))) as Record<string, string>;

const dirs: string[] = [];
const newDir = () => {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach(removeDir));

async function run(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([BUN, MAIN, ...args], { cwd: ROOT, env: { ...BASE_ENV, ...env }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), RUN_MS);
  const [stdout, stderr, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  clearTimeout(timer);
  return { stdout, stderr, code };
}

/** Starts ezra with exactly these flags and env (startEzra always adds --data-dir and --port). */
async function serve(args: string[], env: Record<string, string>) {
  const proc = Bun.spawn([BUN, MAIN, ...args], { cwd: ROOT, env: { ...BASE_ENV, ...env }, stdout: "pipe", stderr: "pipe" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`ezra exited ${await proc.exited}: ${await new Response(proc.stderr).text()}`);
    line += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { proc, line };
}

const url = (port: number) => `redis://127.0.0.1:${port}`;

/** Pushes one task and pops it: the max_attempts it was delivered with shows the setting in force. */
async function deliveredMaxAttempts(port: number): Promise<string> {
  const client = await createClient({ url: url(port) }).connect();
  await client.xAdd("settings", "*", { job: "x" });
  const read = await client.xReadGroup("g", "c", { key: "settings", id: ">" });
  await client.close();
  return (read as { messages: { message: Record<string, string> }[] }[])[0].messages[0].message.max_attempts;
}

test("--help lists every flag with its env var and exits 0; --version prints the version", async () => {
  const help = await run(["--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("Usage: ezra --data-dir DIR");
  for (const option of OPTIONS) {
    expect(help.stdout).toContain(`--${option.flag}`);
    expect(help.stdout).toContain(`EZRA_${option.flag.toUpperCase().replaceAll("-", "_")}`);
  }
  const version = await run(["--version"]);
  expect([version.code, version.stdout.trim()]).toEqual([0, pkg.version]);
}, TEST_MS);

const BAD: [string, string[], Record<string, string>][] = [
  ["--port", ["--port", "abc"], {}],
  ["--port", ["--port", "70000"], {}],
  ["--durability", ["--durability", "fast"], {}],
  ["--max-attempts", ["--max-attempts", "0"], {}],
  ["--max-attempts", ["--max-attempts", "-1"], {}],
  ["--visibility-timeout", ["--visibility-timeout", "soon"], {}],
  ["--prot", ["--prot", "1"], {}],
  ["--durability", [], { EZRA_DURABILITY: "fast" }],
];

for (const [flag, args, env] of BAD) {
  test(`${[...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(" ")}: one line naming ${flag}, exit 2`, async () => {
    const result = await run(["--data-dir", newDir(), "--port", "0", ...args], env);
    expect(result.stderr).toMatch(new RegExp(`^ezra: ${flag}: [^\\n]+\\n$`));
    expect(result.stdout).toBe("");
    expect(result.code).toBe(2);
  }, TEST_MS);
}

test("a missing data dir, or none given: one line naming --data-dir, exit 2", async () => {
  const missing = join(newDir(), "not-there");
  for (const args of [["--data-dir", missing], []]) {
    const result = await run([...args, "--port", "0"]);
    expect(result.stderr).toMatch(/^ezra: --data-dir: [^\n]+\n$/);
    expect(result.code).toBe(2);
  }
  expect((await run(["--data-dir", missing, "--port", "0"])).stderr).toContain(missing);
}, TEST_MS);

test("EZRA_* env vars configure the server when no flag is given", async () => {
  const dataDir = newDir();
  const port = freePort();
  const { proc, line } = await serve([], {
    EZRA_DATA_DIR: dataDir,
    EZRA_PORT: String(port),
    EZRA_MAX_ATTEMPTS: "4",
    EZRA_VISIBILITY_TIMEOUT: "120",
  });
  try {
    expect(line).toContain(`127.0.0.1:${port} (data: ${join(dataDir, "ezra.db")}`);
    expect(await deliveredMaxAttempts(port)).toBe("4");
    const client = await createClient({ url: url(port) }).connect();
    const config = await client.sendCommand(["EZRA", "CONFIG", "GET", "settings"]);
    await client.close();
    // A flat array over RESP2, a map (an object here) over RESP3, node-redis 6's default.
    const settings = Array.isArray(config) ? Object.fromEntries(config.flatMap((v, i) => (i % 2 ? [] : [[v, config[i + 1]]]))) : config;
    expect(settings).toMatchObject({ visibility_timeout: "120", max_attempts: "4" });
  } finally {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  }
}, TEST_MS);

test("flags win over EZRA_* env vars", async () => {
  // The env port is taken: the server only starts if --port wins.
  const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const dataDir = newDir();
  try {
    const { proc, line } = await serve(["--data-dir", dataDir, "--port", "0", "--max-attempts", "5"], {
      EZRA_DATA_DIR: join(dataDir, "not-there"),
      EZRA_PORT: String(taken.port),
      EZRA_MAX_ATTEMPTS: "4",
    });
    try {
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
      expect(port).not.toBe(taken.port);
      expect(line).toContain(`(data: ${join(dataDir, "ezra.db")}`);
      expect(await deliveredMaxAttempts(port)).toBe("5");
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
  } finally {
    taken.stop(true);
  }
}, TEST_MS);

test("a second server on the same data dir refuses with a clear message; the first keeps serving", async () => {
  const first = await startEzra({ dataDir: newDir() });
  try {
    const second = await run(["--data-dir", first.dataDir, "--port", "0"]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/^ezra: [^\n]*already[^\n]*\n$/);
    expect(second.stderr).toContain(first.dataDir);
    const client = await createClient({ url: url(first.port) }).connect();
    expect(await client.ping()).toBe("PONG");
    await client.close();
  } finally {
    expect(await first.stop()).toBe(0);
  }
}, TEST_MS);

test("the startup line names host:port and the database file", async () => {
  const ezra = await startEzra({ dataDir: newDir() });
  try {
    expect(ezra.output()).toMatch(
      new RegExp(`^ezra ${pkg.version.replaceAll(".", "\\.")} listening on redis://127\\.0\\.0\\.1:${ezra.port} \\(data: ${join(ezra.dataDir, "ezra.db")}`),
    );
  } finally {
    expect(await ezra.stop()).toBe(0);
  }
}, TEST_MS);

/** A raw RESP connection that records every byte until the server closes it. */
async function rawConnection(port: number) {
  let received = "";
  let closed!: () => void;
  const closedPromise = new Promise<void>((resolve) => (closed = resolve));
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_, chunk) {
        received += new TextDecoder().decode(chunk);
      },
      close: () => closed(),
      error: () => closed(),
    },
  });
  const send = (...args: string[]) => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
  return { send, received: () => received, closed: closedPromise };
}

for (const [signal, protocol, nullReply] of [["SIGTERM", 2, "*-1\r\n"], ["SIGINT", 3, "_\r\n"]] as const) {
  test(`${signal}: a client blocked in XREADGROUP BLOCK 0 (RESP${protocol}) gets null, then ezra exits 0`, async () => {
    const ezra = await startEzra({ dataDir: newDir() });
    const worker = await rawConnection(ezra.port);
    if (protocol === 3) worker.send("HELLO", "3");
    worker.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "idle", ">");
    const watcher = await createClient({ url: url(ezra.port) }).connect();
    while (!/blocked_clients:1\r\n/.test(await watcher.info("clients"))) await Bun.sleep(5);
    watcher.destroy();
    const handshake = worker.received();

    ezra.proc.kill(signal);
    expect(await ezra.proc.exited).toBe(0);
    await worker.closed;
    expect(worker.received().slice(handshake.length)).toBe(nullReply);
    expect(ezra.output()).toContain(`${signal}, shutting down`);
  }, TEST_MS);
}
