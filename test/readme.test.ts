// Keeps the README true: runs its first-task redis-cli lines, and its producer and worker
// examples (Node and Python, extracted from the code blocks by their first-line file name)
// against a real server, restarting the server under the workers as a deploy would.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "redis";
import { BUN, type EzraProcess, freePort, ROOT, removeDir, startEzra, tempDir } from "./helpers/servers.ts";
import { requireTool, SYSTEM_PYTHON, TOOLS } from "./helpers/tools.ts";

const README = readFileSync(join(ROOT, "README.md"), "utf8");
const examples = new Map<string, string>();
for (const m of README.matchAll(/```(?:js|python)\n(?:\/\/|#) (\S+)\n([\s\S]*?)```/g)) {
  examples.set(m[1], m[0].replace(/^```\w+\n/, "").replace(/```$/, ""));
}
// Inside the repo so `import "redis"` resolves from node_modules.
const dir = join(ROOT, "test", `.tmp-readme-${process.pid}`);
const dataDir = tempDir();
// A fixed port, so a restarted server is where the workers reconnect to.
const port = freePort();
let ezra: EzraProcess;
let env: Record<string, string>;

const start = () => startEzra({ dataDir, args: ["--port", String(port)] });

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  for (const [name, code] of examples) writeFileSync(join(dir, name), code);
  ezra = await start();
  env = { ...process.env, EZRA_URL: `redis://127.0.0.1:${port}` } as Record<string, string>;
});

afterAll(async () => {
  await ezra.stop();
  removeDir(dataDir);
  removeDir(dir);
});

async function run(cmd: string[]): Promise<string> {
  const proc = Bun.spawn(cmd, { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${err}`);
  return out;
}

async function doneCount(queue: string): Promise<number> {
  const client = await createClient({ url: env.EZRA_URL }).connect();
  try {
    const info = (await client.sendCommand(["XINFO", "STREAM", queue])) as unknown;
    // RESP2 gives a flat array, RESP3 a map (an object or a Map, depending on the client's settings).
    if (Array.isArray(info)) return Number(info[info.indexOf("ezra-done") + 1]);
    if (info instanceof Map) return Number(info.get("ezra-done"));
    return Number((info as Record<string, unknown>)["ezra-done"]);
  } finally {
    await client.quit();
  }
}

async function waitForDone(queue: string, done: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  let acked = await doneCount(queue);
  while (acked < done && Date.now() < deadline) {
    await Bun.sleep(50);
    acked = await doneCount(queue);
  }
  expect(acked).toBe(done);
}

/**
 * Starts a worker, waits until it acked one task, restarts the server under it, pushes one
 * more task and waits until the same worker process acked that too; returns its output.
 */
async function workerSurvivesRestart(worker: string[], producer: string[], doneBefore: number): Promise<string> {
  expect(await run(producer)).toMatch(/^pushed \d+-\d+\n$/);
  const proc = Bun.spawn(worker, { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  try {
    await waitForDone("emails", doneBefore + 1);
    expect(await ezra.stop()).toBe(0);
    await Bun.sleep(300); // the worker sees the server gone and starts backing off
    ezra = await start();
    expect(await run(producer)).toMatch(/^pushed \d+-\d+\n$/);
    await waitForDone("emails", doneBefore + 2);
    expect(proc.exitCode).toBeNull(); // the same process, still running
  } finally {
    proc.kill();
    await proc.exited;
  }
  return await new Response(proc.stdout).text();
}

test("the README has the four examples", () => {
  expect([...examples.keys()].sort()).toEqual(["producer.mjs", "producer.py", "worker.mjs", "worker.py"]);
});

test.skipIf(!requireTool(TOOLS.redisCli, "the README's first-task redis-cli lines"))(
  "the first-task redis-cli lines work as written (port and id filled in)",
  async () => {
    const lines = [...README.matchAll(/^redis-cli -p 42002 (.+?)\s+#/gm)].map((m) => m[1]);
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["XADD", "XREADGROUP", "XACK"]);
    let id = "";
    for (const line of lines) {
      // The lines are shell: split the way sh would for these simple words and quotes.
      const words = line.replace("<id>", id).split(" ").map((w) => w.replace(/^'(.*)'$/, "$1"));
      const out = Bun.spawnSync(["redis-cli", "-p", String(port), ...words]).stdout.toString().trim();
      if (words[0] === "XADD") id = out;
      if (words[0] === "XREADGROUP") expect(out).toContain("ada@example.com");
      if (words[0] === "XACK") expect(out).toBe("1");
    }
    expect(id).toMatch(/^\d+-\d+$/);
  },
);

test("Node producer and worker from the README; the worker survives a server restart", async () => {
  const before = await doneCount("emails").catch(() => 0);
  const out = await workerSurvivesRestart(["node", "worker.mjs"], ["node", "producer.mjs"], before);
  expect(out).toContain("sending to ada@example.com attempt 1");
}, 60_000);

test.skipIf(!requireTool(TOOLS.redisPy, "the README's Python examples"))(
  "Python producer and worker from the README; the worker survives a server restart",
  async () => {
    const before = await doneCount("emails").catch(() => 0);
    const out = await workerSurvivesRestart([SYSTEM_PYTHON, "worker.py"], [SYSTEM_PYTHON, "producer.py"], before);
    expect(out).toContain("sending to ada@example.com attempt 1");
  },
  60_000,
);

test("the first-run line after the install one-liner works as written in an empty directory", async () => {
  const firstRun = /^```sh\ncurl [^\n]*\| sh\n(ezra [^\n]*)\n```/m.exec(README);
  expect(firstRun).not.toBeNull();
  const args = (firstRun as RegExpExecArray)[1].split(" ").slice(1);
  const cwd = tempDir("ezra-readme-first-run-");
  // `ezra` is the installed binary; from a checkout it is `bun src/main.ts`. Port 0 only so
  // the test does not collide with another server on 42002.
  const proc = Bun.spawn([BUN, join(ROOT, "src", "main.ts"), ...args, "--port", "0"], { cwd, stdout: "pipe", stderr: "pipe" });
  try {
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("try:")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain(`data:       ${join(cwd, "data", "ezra.db")}`);
    expect(existsSync(join(cwd, "data", "ezra.db"))).toBe(true);
  } finally {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    removeDir(cwd);
  }
}, 20_000);
