// Builds every release target with `bun build.ts --release` (what `npm run release` runs) into a
// temp dir, then checks what a release publishes: one artifact per target in the right executable
// format and architecture, SHA256SUMS matching them, and this machine's artifact running.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { TARGETS, artifactName, hostTarget } from "../build.ts";
import { pushPopAck } from "./helpers/binary-smoke.ts";
import { type ExecutableFormat, executableFormat } from "./helpers/executable-format.ts";
import { BUN, ROOT, removeDir, tempDir } from "./helpers/servers.ts";

/** Seven runtimes of ~100 MB each; the first run also downloads six of them from npm. */
const BUILD_MS = 300_000;
const dir = tempDir("ezra-release-");
const host = hostTarget();
const FORMAT_OF_OS: Record<string, ExecutableFormat["format"]> = { linux: "elf", darwin: "macho", windows: "pe" };
let commit = "";

function git(...args: string[]): string {
  const run = Bun.spawnSync(["git", ...args], { cwd: ROOT });
  if (run.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${run.stderr}`);
  return run.stdout.toString().trim();
}

beforeAll(async () => {
  commit = git("rev-parse", "--short", "HEAD");
  const build = Bun.spawn([BUN, "build.ts", "--release", "--outdir", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = [await new Response(build.stdout).text(), await new Response(build.stderr).text(), await build.exited];
  if (code !== 0) throw new Error(`bun build.ts --release exited ${code}:\n${out}${err}`);
}, BUILD_MS);

afterAll(() => removeDir(dir));

test("the release holds one artifact per target and SHA256SUMS, nothing else", () => {
  expect(readdirSync(dir).sort()).toEqual([...TARGETS.map(artifactName), "SHA256SUMS"].sort());
  expect(TARGETS).toContain("linux-x64-musl");
});

describe("each artifact is an executable for its OS and CPU", () => {
  for (const target of TARGETS) {
    test(target, () => {
      const [os, arch, libc] = target.split("-");
      const found = executableFormat(join(dir, artifactName(target)));
      expect(found.format).toBe(FORMAT_OF_OS[os]);
      expect(found.arch).toBe(arch as "x64" | "arm64");
      // Linux artifacts differ only in the loader they ask for: glibc's ld-linux or musl's.
      if (os === "linux") expect(found.interpreter).toMatch(libc === "musl" ? /^\/lib\/ld-musl-/ : /\/ld-linux-/);
      if (os === "darwin") expect(found.signed).toBe(true);
    });
  }
});

test("SHA256SUMS is in sha256sum's format and matches every artifact", () => {
  const lines = readFileSync(join(dir, "SHA256SUMS"), "utf8").split("\n");
  expect(lines.pop()).toBe(""); // ends with a newline
  const listed = new Map(
    lines.map((line) => {
      const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
      if (!m) throw new Error(`not a sha256sum line: ${JSON.stringify(line)}`);
      return [m[2], m[1]] as const;
    }),
  );
  expect([...listed.keys()].sort()).toEqual(TARGETS.map(artifactName).sort());
  for (const [name, sum] of listed) {
    const hasher = new Bun.CryptoHasher("sha256");
    hasher.update(readFileSync(join(dir, name)));
    expect(`${name} ${hasher.digest("hex")}`).toBe(`${name} ${sum}`);
  }
});

describe.skipIf(!(TARGETS as readonly string[]).includes(host))(`this machine's artifact (${host})`, () => {
  const exe = join(dir, artifactName(host));

  test("prints the version, the git commit and the target, away from the repo and without Bun on PATH", () => {
    const run = Bun.spawnSync([exe, "--version"], { cwd: dir, env: { PATH: "/usr/bin:/bin" } });
    const line = run.stdout.toString().trim();
    expect(run.stderr.toString()).toBe("");
    expect(line).toContain(pkg.version);
    expect(line).toContain(`commit ${commit}`);
    expect(line).toContain(host);
    expect(run.exitCode).toBe(0);
  });

  test("starts, serves push, pop and ack, and exits 0 on SIGTERM", () => pushPopAck(exe), 30_000);
});

test("build.ts refuses an unknown target and lists the known ones", () => {
  const run = Bun.spawnSync([BUN, "build.ts", "--target", "sunos-sparc"], { cwd: ROOT });
  expect(run.exitCode).toBe(1);
  expect(run.stderr.toString()).toContain(`unknown target "sunos-sparc"; targets: ${TARGETS.join(", ")}`);
});
