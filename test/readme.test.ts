// Keeps the README true: runs its producer and worker examples (Node and Python, extracted
// from the code blocks by their first-line file name) against a real server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "redis";
import { type EzraProcess, ROOT, removeDir, startEzra } from "./helpers/servers.ts";
import { requireTool, SYSTEM_PYTHON, TOOLS } from "./helpers/tools.ts";

const examples = new Map<string, string>();
for (const m of readFileSync(join(ROOT, "README.md"), "utf8").matchAll(/```(?:js|python)\n(?:\/\/|#) (\S+)\n([\s\S]*?)```/g)) {
  examples.set(m[1], m[0].replace(/^```\w+\n/, "").replace(/```$/, ""));
}
// Inside the repo so `import "redis"` resolves from node_modules.
const dir = join(ROOT, "test", `.tmp-readme-${process.pid}`);
let ezra: EzraProcess;
let env: Record<string, string>;

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  for (const [name, code] of examples) writeFileSync(join(dir, name), code);
  ezra = await startEzra();
  env = { ...process.env, EZRA_URL: `redis://127.0.0.1:${ezra.port}` } as Record<string, string>;
});

afterAll(async () => {
  await ezra.stop();
  removeDir(ezra.dataDir);
  removeDir(dir);
});

async function run(cmd: string[]): Promise<string> {
  const proc = Bun.spawn(cmd, { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${err}`);
  return out;
}

/** Runs a worker until `done` tasks are acked in `emails`, then stops it; returns its output. */
async function runWorkerUntil(cmd: string[], done: number): Promise<string> {
  const proc = Bun.spawn(cmd, { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  const client = await createClient({ url: env.EZRA_URL }).connect();
  const deadline = Date.now() + 20_000;
  let acked = 0;
  while (Date.now() < deadline) {
    const info = (await client.sendCommand(["XINFO", "STREAM", "emails"])) as unknown;
    // RESP2 gives a flat array, RESP3 a map (an object or a Map, depending on the client's settings).
    if (Array.isArray(info)) acked = Number(info[info.indexOf("ezra-done") + 1]);
    else if (info instanceof Map) acked = Number(info.get("ezra-done"));
    else acked = Number((info as Record<string, unknown>)["ezra-done"]);
    if (acked >= done) break;
    await Bun.sleep(50);
  }
  await client.quit();
  proc.kill();
  await proc.exited;
  expect(acked).toBe(done);
  return await new Response(proc.stdout).text();
}

test("the README has the four examples", () => {
  expect([...examples.keys()].sort()).toEqual(["producer.mjs", "producer.py", "worker.mjs", "worker.py"]);
});

test("Node producer and worker from the README", async () => {
  expect(await run(["node", "producer.mjs"])).toMatch(/^pushed \d+-\d+\n$/);
  const out = await runWorkerUntil(["node", "worker.mjs"], 1);
  expect(out).toContain("sending to ada@example.com attempt 1");
}, 30_000);

test.skipIf(!requireTool(TOOLS.redisPy, "the README's Python examples"))("Python producer and worker from the README", async () => {
  expect(await run([SYSTEM_PYTHON, "producer.py"])).toMatch(/^pushed \d+-\d+\n$/);
  const out = await runWorkerUntil([SYSTEM_PYTHON, "worker.py"], 2);
  expect(out).toContain("sending to ada@example.com attempt 1");
}, 30_000);
