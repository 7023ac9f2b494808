// Runs install.sh with sh (dash where present) against a local HTTP server serving folders
// shaped like dist/: small stand-in artifacts with a true SHA256SUMS, a tampered copy, and this
// machine's real release build. Platform detection is steered by stand-in uname, ldd and id.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { TARGETS, artifactName, hostTarget } from "../build.ts";
import { BUN, ROOT, removeDir, tempDir } from "./helpers/servers.ts";
import { TOOLS, requireTool } from "./helpers/tools.ts";

const SH = Bun.which("dash") ?? "/bin/sh";
const SCRIPT = join(ROOT, "install.sh");
const host = hostTarget();
const hostBuilt = (TARGETS as readonly string[]).includes(host);
const haveCurl = requireTool(TOOLS.curl, "install.sh download tests");
const haveWget = requireTool(TOOLS.wget, "install.sh's wget fallback test");
const haveShellcheck = requireTool(TOOLS.shellcheck, "install.sh lint");
/** Building this machine's target needs no runtime download: seconds, but a 100 MB binary. */
const BUILD_MS = 120_000;

const root = tempDir("ezra-install-");
const served = join(root, "served");
/** Stand-ins for uname, ldd and id, put first on PATH; they answer from FAKE_* variables. */
const fakeBin = join(root, "fake-bin");
let server: ReturnType<typeof Bun.serve>;
const requests: { path: string; agent: string }[] = [];
let runs = 0;

/** A stand-in artifact: a script that names its target, so an install shows which one it got. */
const standIn = (target: string) => `#!/bin/sh\necho "stand-in ezra ${target}"\n`;

function sha256(data: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

function writeFolder(name: string, files: Record<string, string>, sums: Record<string, string>): void {
  const dir = join(served, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  writeFileSync(join(dir, "SHA256SUMS"), Object.entries(sums).map(([file, sum]) => `${sum}  ${file}\n`).join(""));
}

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

beforeAll(async () => {
  const files = Object.fromEntries(TARGETS.map((t) => [artifactName(t), standIn(t)]));
  const sums = Object.fromEntries(Object.entries(files).map(([file, content]) => [file, sha256(content)]));
  writeFolder("good", files, sums);
  // The same SHA256SUMS over artifacts changed after it was written (a corrupt or swapped file).
  writeFolder("tampered", Object.fromEntries(Object.entries(files).map(([f, c]) => [f, `${c}# changed\n`])), sums);
  writeFolder("unlisted", files, {});

  mkdirSync(fakeBin);
  script(join(fakeBin, "uname"), 'case "$1" in -s) echo "$FAKE_UNAME_S" ;; -m) echo "$FAKE_UNAME_M" ;; *) exit 1 ;; esac');
  script(join(fakeBin, "ldd"), 'echo "$FAKE_LDD" >&2; exit 1');
  script(join(fakeBin, "id"), 'echo "$FAKE_UID"');

  if (hostBuilt) {
    const build = Bun.spawn([BUN, "build.ts", "--release", "--targets", host, "--outdir", join(served, "real")], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = [await new Response(build.stdout).text(), await new Response(build.stderr).text(), await build.exited];
    if (code !== 0) throw new Error(`bun build.ts --release exited ${code}:\n${out}${err}`);
  }

  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      requests.push({ path, agent: req.headers.get("user-agent") ?? "" });
      const file = join(served, ...path.split("/").filter((p) => p !== "" && p !== ".."));
      return existsSync(file) && statSync(file).isFile() ? new Response(Bun.file(file)) : new Response("not found", { status: 404 });
    },
  });
}, BUILD_MS);

afterAll(() => {
  server?.stop(true);
  removeDir(root);
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The temp dir the script was given (TMPDIR): it must be empty afterwards. */
  tmp: string;
}

/** Runs install.sh with PATH, a fresh HOME and TMPDIR, and `env`: nothing else is inherited. */
async function install(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = join(root, `run-${++runs}`);
  const tmp = join(base, "tmp");
  const home = join(base, "home");
  mkdirSync(tmp, { recursive: true });
  mkdirSync(home);
  // HOME may be overridden by env, like every other variable.
  const proc = Bun.spawn([SH, SCRIPT, ...args], {
    cwd: base,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, TMPDIR: tmp, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  return { code, stdout, stderr, tmp };
}

const url = (folder: string) => `http://127.0.0.1:${server.port}/${folder}`;
const newDir = (name: string) => join(root, `dir-${name}-${runs}`);

function expectNothingInstalled(run: Run, dir: string): void {
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  expect(readdirSync(run.tmp)).toEqual([]);
}

describe("install.sh, the script itself", () => {
  test("parses as POSIX sh (sh -n)", () => {
    const run = Bun.spawnSync([SH, "-n", SCRIPT]);
    expect(run.stderr.toString()).toBe("");
    expect(run.exitCode).toBe(0);
  });

  test.skipIf(!haveShellcheck)("passes shellcheck as sh", () => {
    const run = Bun.spawnSync(["shellcheck", "--shell=sh", SCRIPT]);
    expect(run.stdout.toString()).toBe("");
    expect(run.exitCode).toBe(0);
  });

  test("an unknown option is refused with a pointer to --help", async () => {
    const run = await install(["--dri", "/tmp/x"]);
    expect(run.stderr).toBe("ezra install: error: unknown option: --dri (see --help)\n");
    expect(run.code).toBe(1);
  });
});

describe.skipIf(!haveCurl)("install.sh with curl", () => {
  test("happy path: downloads, verifies, installs an executable copy, prints the next command and a PATH hint", async () => {
    const dir = newDir("happy");
    const run = await install(["--base-url", url("good"), "--dir", dir, "--version", "0.1.0"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const installed = join(dir, "ezra");
    expect(readFileSync(installed, "utf8")).toBe(standIn(host));
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(readdirSync(dir)).toEqual(["ezra"]); // no staged copy left beside it
    expect(readdirSync(run.tmp)).toEqual([]);
    expect(run.stdout).toContain(`downloading ${artifactName(host)} (0.1.0) from ${url("good")} with curl`);
    expect(run.stdout).toContain(`checksum verified (sha256 ${sha256(standIn(host))})`);
    expect(run.stdout).toContain(`stand-in ezra ${host}`); // it ran the installed binary's --version
    expect(run.stdout).toContain(`${dir} is not on your PATH`);
    expect(run.stdout).toContain(`next: ${installed} --data-dir ./data --create-data-dir`);
  });

  test("settings from EZRA_BASE_URL, EZRA_INSTALL_DIR, EZRA_VERSION; a flag wins over its variable", async () => {
    const fromEnv = newDir("env");
    const fromFlag = `${fromEnv}-flag`;
    const env = { EZRA_BASE_URL: `${url("good")}/`, EZRA_INSTALL_DIR: fromEnv, EZRA_VERSION: "v9.9.9" };
    const first = await install([], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`(9.9.9) from ${url("good")} with curl`);
    expect(readFileSync(join(fromEnv, "ezra"), "utf8")).toBe(standIn(host));

    const second = await install([`--dir=${fromFlag}`, `--base-url=${url("tampered")}`], { ...env, EZRA_BASE_URL: url("nowhere") });
    expect(second.stderr).toContain("checksum mismatch"); // it went to --base-url, not EZRA_BASE_URL
    expect(existsSync(fromFlag) ? readdirSync(fromFlag) : []).toEqual([]);
  });

  test("default directory for a user: ~/.local/bin; when it is on PATH the next command is plain `ezra`", async () => {
    const home = join(root, "home-default");
    const bin = join(home, ".local", "bin");
    const run = await install([], {
      PATH: `${fakeBin}:${bin}:${process.env.PATH}`,
      HOME: home,
      FAKE_UID: "1000",
      FAKE_UNAME_S: "Linux",
      FAKE_UNAME_M: "x86_64",
      FAKE_LDD: "ldd (GNU libc) 2.36",
      EZRA_BASE_URL: url("good"),
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(readFileSync(join(bin, "ezra"), "utf8")).toBe(standIn("linux-x64"));
    expect(run.stdout).toContain("next: ezra --data-dir ./data --create-data-dir");
    expect(run.stdout).not.toContain("not on your PATH");
  });

  test("a checksum that does not match: refuses, exits non-zero, installs nothing and keeps the old binary", async () => {
    const dir = newDir("tampered");
    mkdirSync(dir);
    writeFileSync(join(dir, "ezra"), "old binary");
    const run = await install(["--base-url", url("tampered"), "--dir", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`checksum mismatch for ${artifactName(host)}: SHA256SUMS says ${sha256(standIn(host))}`);
    expect(run.stderr).toContain("nothing was installed");
    expect(readdirSync(dir)).toEqual(["ezra"]);
    expect(readFileSync(join(dir, "ezra"), "utf8")).toBe("old binary");
    expect(readdirSync(run.tmp)).toEqual([]);
  });

  test("an artifact SHA256SUMS does not list is refused too", async () => {
    const dir = newDir("unlisted");
    const run = await install(["--base-url", url("unlisted"), "--dir", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`SHA256SUMS at ${url("unlisted")} has no line for ${artifactName(host)}`);
    expectNothingInstalled(run, dir);
  });

  test("a download that fails (404) says which URL and installs nothing", async () => {
    const dir = newDir("missing");
    const run = await install(["--base-url", url("nowhere"), "--dir", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`could not download ${url("nowhere")}/${artifactName(host)}`);
    expectNothingInstalled(run, dir);
  });

  describe("picks the artifact from uname -s, uname -m and the libc ldd names", () => {
    const cases: [string, string, string, string][] = [
      ["Linux", "x86_64", "ldd (Debian GLIBC 2.36-9) 2.36", "linux-x64"],
      ["Linux", "amd64", "ldd (GNU libc) 2.39", "linux-x64"],
      ["Linux", "aarch64", "ldd (GNU libc) 2.36", "linux-arm64"],
      ["Linux", "x86_64", "musl libc (x86_64)\nVersion 1.2.4", "linux-x64-musl"],
      ["Linux", "aarch64", "musl libc (aarch64)", "linux-arm64-musl"],
      ["Darwin", "x86_64", "", "darwin-x64"],
      ["Darwin", "arm64", "", "darwin-arm64"],
      ["MINGW64_NT-10.0-19045", "x86_64", "", "windows-x64"],
    ];
    for (const [s, m, ldd, target] of cases) {
      test(`${s} ${m}${ldd ? ` (${ldd.split("\n")[0]})` : ""} -> ${artifactName(target)}`, async () => {
        const dir = newDir(target);
        const run = await install(["--base-url", url("good"), "--dir", dir], {
          PATH: `${fakeBin}:${process.env.PATH}`,
          FAKE_UNAME_S: s,
          FAKE_UNAME_M: m,
          FAKE_LDD: ldd,
        });
        expect(run.code).toBe(0);
        const binary = target.startsWith("windows-") ? "ezra.exe" : "ezra";
        expect(readdirSync(dir)).toEqual([binary]);
        expect(readFileSync(join(dir, binary), "utf8")).toBe(standIn(target));
      });
    }
  });

  for (const [s, m] of [
    ["SunOS", "sparc"],
    ["Linux", "riscv64"],
    ["FreeBSD", "amd64"],
  ]) {
    test(`unsupported platform ${s} ${m}: a clear message, non-zero exit, nothing downloaded`, async () => {
      const dir = newDir("unsupported");
      const before = requests.length;
      const run = await install(["--base-url", url("good"), "--dir", dir], {
        PATH: `${fakeBin}:${process.env.PATH}`,
        FAKE_UNAME_S: s,
        FAKE_UNAME_M: m,
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toStartWith(`ezra install: error: no ezra build for ${s} ${m}. Builds exist for Linux`);
      expect(run.stderr).toContain("build from source");
      expect(requests.length).toBe(before);
      expectNothingInstalled(run, dir);
    });
  }

  test.skipIf(!hostBuilt)(`the real ${host} release build installs and runs`, async () => {
    const dir = newDir("real");
    const run = await install(["--base-url", url("real"), "--dir", dir]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const installed = join(dir, "ezra");
    expect(sha256(readFileSync(installed))).toBe(sha256(readFileSync(join(served, "real", artifactName(host)))));
    const version = Bun.spawnSync([installed, "--version"]);
    expect(version.stdout.toString()).toContain(pkg.version);
    expect(version.exitCode).toBe(0);
  }, 60_000);
});

describe("without curl", () => {
  /** A PATH of one directory holding only what install.sh uses, optionally a downloader. */
  function restrictedPath(name: string, downloaders: string[]): string {
    const dir = join(root, `path-${name}`);
    mkdirSync(dir);
    const link = (tool: string) => {
      const found = Bun.which(tool);
      if (found !== null) symlinkSync(found, join(dir, tool));
      return found !== null;
    };
    for (const tool of ["uname", "id", "mktemp", "rm", "mkdir", "cp", "chmod", "mv", "awk", ...downloaders]) {
      if (!link(tool)) throw new Error(`${tool} is not on PATH`);
    }
    link("ldd"); // optional: without it the script looks for musl's loader
    if (!link("sha256sum") && !link("shasum")) throw new Error("neither sha256sum nor shasum is on PATH");
    return dir;
  }

  test.skipIf(!haveWget)("falls back to wget", async () => {
    const dir = newDir("wget");
    const before = requests.length;
    const run = await install(["--base-url", url("good"), "--dir", dir], { PATH: restrictedPath("wget", ["wget"]) });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("with wget");
    expect(readFileSync(join(dir, "ezra"), "utf8")).toBe(standIn(host));
    const seen = requests.slice(before);
    expect(seen.map((r) => r.path)).toEqual([`/good/${artifactName(host)}`, "/good/SHA256SUMS"]);
    for (const r of seen) expect(r.agent).toStartWith("Wget/");
  });

  test("and without wget: says what to install, installs nothing", async () => {
    const dir = newDir("neither");
    const run = await install(["--base-url", url("good"), "--dir", dir], { PATH: restrictedPath("neither", []) });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("neither curl nor wget is installed; install one (apt-get install curl");
    expectNothingInstalled(run, dir);
  });
});
