// The fresh-machine split itself: three small test files that need redis-server, redis-cli and
// redis-py run in a child `bun test` whose PATH holds only node, npm, npx and bun, with Debian's
// python hidden (EZRA_TEST_SYSTEM_PYTHON=/nonexistent, see test/helpers/tools.ts). Without CI
// they pass, skipping with one line per missing tool that names its apt package; with CI=true
// the same run fails, naming the tool. And .ci/run installs every package tools.ts can ask for.
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freshMachinePath } from "./helpers/fresh-machine.ts";
import { removeDir, ROOT } from "./helpers/servers.ts";
import { TOOLS } from "./helpers/tools.ts";

// Explicit paths (not name filters), so the child never picks up this file again.
const FILES = ["test/differential/harness.test.ts", "test/clients/redis-cli.test.ts", "test/clients/redis-py.test.ts"].map((f) => join(ROOT, f));

const LINES = [
  "redis-server not found; install it with: apt-get install -y redis-server",
  "redis-cli not found; install it with: apt-get install -y redis-tools",
  "redis-py (Debian's python3-redis) not found; install it with: apt-get install -y python3-redis",
];

const pathDir = freshMachinePath();
afterAll(() => removeDir(pathDir));

async function childTest(ci: boolean): Promise<{ code: number; output: string }> {
  const env: Record<string, string | undefined> = { ...process.env, PATH: pathDir, EZRA_TEST_SYSTEM_PYTHON: "/nonexistent" };
  if (ci) env.CI = "true";
  else delete env.CI;
  const proc = Bun.spawn([process.execPath, "test", ...FILES], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: out + err };
}

/** The summary counts bun prints at the end ("  12 pass", " 3 skip", " 0 fail"). */
function count(output: string, kind: "pass" | "skip" | "fail"): number {
  return Number(new RegExp(`^\\s*(\\d+) ${kind}$`, "m").exec(output)?.[1] ?? Number.NaN);
}

test("the fresh PATH hides the tools: only node, npm, npx and bun are on it", () => {
  const env = { PATH: pathDir };
  expect(["redis-server", "redis-cli", "openssl", "python3"].map((c) => Bun.which(c, env))).toEqual([null, null, null, null]);
  expect(["node", "npm", "npx", "bun"].every((c) => Bun.which(c, env) !== null)).toBe(true);
});

test("without CI, tests needing missing tools skip with one line each naming the apt package", async () => {
  const { code, output } = await childTest(false);
  expect({ code, fail: count(output, "fail") }, output).toEqual({ code: 0, fail: 0 });
  expect(count(output, "pass")).toBeGreaterThan(0); // the parser tests need no tool
  expect(count(output, "skip")).toBeGreaterThan(0);
  for (const line of LINES) {
    // One line per tool and purpose: the three files each print exactly one.
    expect(output.split("\n").filter((l) => l.startsWith("skipping ") && l.endsWith(line)), output).toHaveLength(1);
  }
}, 60_000);

test("with CI=true the same run fails, naming each missing tool and its apt package", async () => {
  const { code, output } = await childTest(true);
  expect(code).not.toBe(0);
  expect(count(output, "fail")).toBe(3);
  for (const tool of ["redis-server", "redis-cli", "redis-py (Debian's python3-redis)"]) {
    expect(output).toContain(`(fail) needs ${tool} (CI=true: a missing tool fails, it does not skip)`);
  }
  for (const line of LINES) expect(output).toContain(line);
  expect(output).not.toContain("skipping ");
}, 60_000);

test(".ci/run installs every package a ToolSpec names, so nothing it runs under CI=true is missing", () => {
  const script = readFileSync(join(ROOT, ".ci", "run"), "utf8");
  const installed = new Set(/^PACKAGES="([^"]*)"$/m.exec(script)?.[1].split(" "));
  expect(installed.size).toBeGreaterThan(0);
  // Capabilities (root for a tmpfs) are not packages: .ci/run runs as root instead.
  const wanted = Object.values(TOOLS).flatMap((tool) => ("otherwise" in tool ? [] : tool.apt.split(" ")));
  expect(wanted.filter((pkg) => !installed.has(pkg))).toEqual([]);
});
