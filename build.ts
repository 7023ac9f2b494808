// Compiles ezra into self-contained executables with `bun build --compile`, the version, git
// commit and target baked in (src/version.ts); a release build also writes SHA256SUMS.
// Usage:
//   bun build.ts                          this machine's executable as ./ezra
//   bun build.ts --outfile PATH           the same, at PATH
//   bun build.ts --target linux-arm64     one target (bun-linux-arm64 also accepted) as dist/ezra-linux-arm64
//   bun build.ts --release                every target into a cleaned dist/, with dist/SHA256SUMS
//   bun build.ts --release --outdir DIR --targets linux-x64,darwin-arm64   a chosen set, elsewhere
// Cross-compiling fetches each target's Bun runtime from the npm registry (@oven/bun-<target>)
// once and caches it under ~/.bun/install/cache (BUN_INSTALL_CACHE_DIR); the host target needs no
// download. Bun 1.4.5 ignores NPM_CONFIG_REGISTRY/BUN_CONFIG_REGISTRY for this, so there is nothing to set.
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pkg from "./package.json" with { type: "json" };

/** Every release target, named as the artifacts are: ezra-<os>-<arch>[-musl][.exe]. */
export const TARGETS = [
  "linux-x64",
  "linux-arm64",
  "linux-x64-musl",
  "linux-arm64-musl",
  "darwin-x64",
  "darwin-arm64",
  "windows-x64",
] as const;

export function artifactName(target: string): string {
  return `ezra-${target}${target.startsWith("windows-") ? ".exe" : ""}`;
}

/** The target this process runs on, in the same naming ("linux-x64", "linux-x64-musl", ...). */
export function hostTarget(): string {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const musl = os === "linux" && header !== undefined && header.glibcVersionRuntime === undefined;
  return `${os}-${process.arch}${musl ? "-musl" : ""}`;
}

/** Short commit, "-dirty" when tracked files differ from it; EZRA_BUILD_COMMIT overrides (builds outside git). */
function gitCommit(): string {
  if (process.env.EZRA_BUILD_COMMIT) return process.env.EZRA_BUILD_COMMIT;
  const head = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
  if (head.exitCode !== 0) return "unknown";
  const dirty = Bun.spawnSync(["git", "diff", "--quiet", "HEAD", "--"], { cwd: import.meta.dir }).exitCode === 1;
  return head.stdout.toString().trim() + (dirty ? "-dirty" : "");
}

/** Compiles one executable; `target` undefined means this machine (no runtime download). */
async function compile(target: string | undefined, outfile: string, commit: string): Promise<void> {
  const args = ["build", "--compile", "--minify", "--sourcemap", join(import.meta.dir, "src", "main.ts"), "--outfile", outfile];
  if (target) args.push("--target", `bun-${target}`);
  args.push("--define", `EZRA_BUILD_COMMIT=${JSON.stringify(commit)}`);
  args.push("--define", `EZRA_BUILD_TARGET=${JSON.stringify(target ?? hostTarget())}`);
  const proc = Bun.spawn([process.execPath, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  if (code !== 0) throw new Error(`bun build failed for ${target ?? "this machine"} (exit ${code}):\n${out}${err}`);
  console.log(`built ${outfile} (${target ?? hostTarget()}, commit ${commit})`);
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Builds `targets` into a cleaned `outdir` and writes SHA256SUMS in sha256sum's format. */
async function release(targets: readonly string[], outdir: string, commit: string): Promise<void> {
  // A stale artifact from an earlier run would be published without a checksum line.
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  for (const target of targets) await compile(target, join(outdir, artifactName(target)), commit);
  // The source map is embedded in each executable; the loose .map files are not release assets.
  for (const name of readdirSync(outdir)) if (name.endsWith(".map")) rmSync(join(outdir, name));
  const names = targets.map(artifactName).sort();
  const lines = await Promise.all(names.map(async (name) => `${await sha256(join(outdir, name))}  ${name}\n`));
  writeFileSync(join(outdir, "SHA256SUMS"), lines.join(""));
  console.log(`wrote ${join(outdir, "SHA256SUMS")}: ezra ${pkg.version}, ${names.length} artifacts`);
}

/** "bun-linux-arm64" and "linux-arm64" both name a target; anything else is refused with the list. */
function parseTarget(name: string): string {
  const target = name.replace(/^bun-/, "");
  if (!(TARGETS as readonly string[]).includes(target)) {
    throw new Error(`unknown target ${JSON.stringify(name)}; targets: ${TARGETS.join(", ")}`);
  }
  return target;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      target: { type: "string" },
      outfile: { type: "string" },
      release: { type: "boolean" },
      outdir: { type: "string" },
      targets: { type: "string" },
    },
  });
  const commit = gitCommit();
  if (values.release) {
    const targets = values.targets ? values.targets.split(",").map(parseTarget) : TARGETS;
    await release(targets, values.outdir ?? join(import.meta.dir, "dist"), commit);
  } else if (values.target) {
    const target = parseTarget(values.target);
    await compile(target, values.outfile ?? join(import.meta.dir, "dist", artifactName(target)), commit);
  } else {
    await compile(undefined, values.outfile ?? "ezra", commit);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`build.ts: ${(error as Error).message}`);
    process.exit(1);
  }
}
