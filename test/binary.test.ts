// Builds the single executable with build.ts (`bun build --compile`) and runs it on its own:
// --version from a directory outside the repo, then a real push/pop/ack through its server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { RedisClient } from "bun";
import pkg from "../package.json" with { type: "json" };
import { hostTarget } from "../build.ts";
import { BUN, ROOT, removeDir, startEzra, tempDir } from "./helpers/servers.ts";

/** Compiling embeds the whole Bun runtime: slow on a shared 2-core machine. */
const BUILD_MS = 180_000;
const dir = tempDir("ezra-binary-");
const exe = join(dir, "ezra");
/** Baked in through build.ts's override, so the expected line does not depend on the checkout. */
const BAKED_COMMIT = "binary-test";

beforeAll(async () => {
  const build = Bun.spawn([BUN, "build.ts", "--outfile", exe], {
    cwd: ROOT,
    env: { ...process.env, EZRA_BUILD_COMMIT: BAKED_COMMIT },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = [await new Response(build.stdout).text(), await new Response(build.stderr).text(), await build.exited];
  if (code !== 0) throw new Error(`bun build.ts exited ${code}:\n${out}${err}`);
}, BUILD_MS);

afterAll(() => removeDir(dir));

test("the executable prints its version, away from the repo and without Bun on PATH", () => {
  const run = Bun.spawnSync([exe, "--version"], { cwd: dir, env: { PATH: "/usr/bin:/bin" } });
  expect(run.stderr.toString()).toBe("");
  expect(run.stdout.toString().trim()).toBe(`ezra ${pkg.version} (commit ${BAKED_COMMIT}, ${hostTarget()})`);
  expect(run.exitCode).toBe(0);
});

test("the executable serves push, pop and ack", async () => {
  const ezra = await startEzra({ command: [exe] });
  try {
    expect(ezra.output()).toContain(`ezra ${pkg.version} listening on redis://127.0.0.1:${ezra.port}`);
    const client = new RedisClient(`redis://127.0.0.1:${ezra.port}`, { autoReconnect: false });
    await client.connect();
    const id = await client.xadd("binary", "*", "job", "compiled", "n", "1");
    expect(await client.xreadgroup("GROUP", "g", "c", "STREAMS", "binary", ">")).toEqual({
      binary: [[id, ["job", "compiled", "n", "1", "attempts", "1", "max_attempts", "3"]]],
    });
    expect(await client.xack("binary", "g", id as string)).toBe(1);
    expect(await client.xlen("binary")).toBe(0);
    client.close();
  } finally {
    expect(await ezra.stop()).toBe(0);
    removeDir(ezra.dataDir);
  }
}, 30_000);
