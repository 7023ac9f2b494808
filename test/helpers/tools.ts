// The fresh-machine rule in one place: a test that needs a tool npm cannot give asks here.
// Present: true. Absent: one printed line naming the tool and its apt-get line, and false
// (the caller skips); under CI=true an absent tool is a failing test instead, never a skip.
//
// Usage, at collection time (module top level or a describe() body, never inside a test):
//   const haveCli = requireTool(TOOLS.redisCli, "redis-cli tests");
//   describe.skipIf(!haveCli)("...", () => { ... });
//
// Environment:
//   CI=true                  a missing tool registers a failing test (CI sets CI=true itself).
//   EZRA_TEST_SYSTEM_PYTHON  the python that must import Debian's python3-redis (default
//                            /usr/bin/python3). Set it to a path that does not exist to test
//                            the fresh-machine split on a machine that has python3-redis
//                            (test/fresh-machine.test.ts does): PATH cannot hide an absolute path.
import { mkdtempSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "bun:test";

export interface ToolSpec {
  /** What the user is missing, as they would name it. */
  name: string;
  /** Debian packages that bring it (what follows `apt-get install -y`). */
  apt: string;
  /** True when the tool is usable here. Runs at most once per test process. */
  probe: () => boolean;
  /** For a capability rather than a package: what to print instead of "not found; install it with: ...". */
  otherwise?: string;
}

const onPath = (command: string) => () => Bun.which(command) !== null;

/** Debian's own python3 (where python3-redis is importable), not another one earlier on PATH. */
export const SYSTEM_PYTHON = process.env.EZRA_TEST_SYSTEM_PYTHON ?? "/usr/bin/python3";

/** True when argv runs and exits 0 (a module imports, a flag is understood). */
const runs = (argv: string[]) => () => {
  if (Bun.which(argv[0]) === null && !argv[0].startsWith("/")) return false;
  try {
    return Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore", timeout: 10_000 }).exitCode === 0;
  } catch {
    return false; // ENOENT for an absolute path that does not exist
  }
};

/** Root (or CAP_SYS_ADMIN) and a working `mount`: mounts a tiny tmpfs and unmounts it. */
function canMountTmpfs(): boolean {
  if (Bun.which("mount") === null || Bun.which("umount") === null) return false;
  const dir = mkdtempSync(join(tmpdir(), "ezra-mount-probe-"));
  try {
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { stdout: "ignore", stderr: "ignore" });
    if (mounted.exitCode !== 0) return false;
    return Bun.spawnSync(["umount", dir], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
  } finally {
    rmdirSync(dir);
  }
}

/** The power-loss test's FUSE filesystem; `lossyfs.py probe DIR` is the mount-permission check below. */
export const LOSSYFS = join(import.meta.dir, "..", "power-loss", "lossyfs.py");

/**
 * Permission to mount FUSE here (root, or CAP_SYS_ADMIN in a container, and /dev/fuse): mounts
 * an empty FUSE filesystem through libfuse and unmounts it. It runs lossyfs.py under Debian's
 * python, so ask for TOOLS.fusepy and TOOLS.fusermount3 first: without them it says false too.
 */
function canMountFuse(): boolean {
  const dir = mkdtempSync(join(tmpdir(), "ezra-fuse-probe-"));
  try {
    return runs([SYSTEM_PYTHON, LOSSYFS, "probe", dir])();
  } finally {
    rmdirSync(dir);
  }
}

export const TOOLS = {
  redisServer: { name: "redis-server", apt: "redis-server", probe: onPath("redis-server") },
  redisCli: { name: "redis-cli", apt: "redis-tools", probe: onPath("redis-cli") },
  redisPy: { name: "redis-py (Debian's python3-redis)", apt: "python3-redis", probe: runs([SYSTEM_PYTHON, "-c", "import redis"]) },
  openssl: { name: "openssl", apt: "openssl", probe: onPath("openssl") },
  curl: { name: "curl", apt: "curl", probe: onPath("curl") },
  wget: { name: "wget", apt: "wget", probe: onPath("wget") },
  shellcheck: { name: "shellcheck", apt: "shellcheck", probe: onPath("shellcheck") },
  tmpfsMount: {
    name: "a tmpfs mount",
    apt: "mount",
    probe: canMountTmpfs,
    otherwise: "cannot be made here (it needs root, or CAP_SYS_ADMIN in a container, and `mount`); run the tests as root, as .ci/run does",
  },
  // The power-loss test (test/power-loss.test.ts): a FUSE filesystem in Python that forgets
  // unsynced writes. Debian's python3-fusepy names its module `fusepy` (python3-fuse has `fuse`).
  fusermount3: { name: "fusermount3", apt: "fuse3", probe: onPath("fusermount3") },
  fusepy: { name: "fusepy (Debian's python3-fusepy)", apt: "python3-fusepy", probe: runs([SYSTEM_PYTHON, "-c", "import fusepy"]) },
  fuseMount: {
    name: "a FUSE mount",
    apt: "fuse3",
    probe: canMountFuse,
    otherwise: "cannot be made here: this process lacks permission to mount FUSE (it needs /dev/fuse and root, or CAP_SYS_ADMIN in a container); run the tests as root, as .ci/run does",
  },
  // The systemd unit's checks (test/packaging.test.ts): `systemd-analyze verify` and `security`.
  systemdAnalyze: { name: "systemd-analyze", apt: "systemd", probe: onPath("systemd-analyze") },
  // The container and unit mirrors (scripts/container-check.ts) make these as root.
  namespaces: {
    name: "mount, PID and network namespaces",
    apt: "util-linux",
    probe: runs(["unshare", "--mount", "--pid", "--net", "--fork", "--propagation", "private", "true"]),
    otherwise: "cannot be made here (they need root, or CAP_SYS_ADMIN in a container); run the tests as root, as .ci/run does",
  },
  // Real clients in other languages (test/clients/bridged-clients.ts), from Debian's packages.
  rubyRedis: { name: "ruby-redis (Ruby's redis gem)", apt: "ruby-redis", probe: runs(["ruby", "-e", 'require "redis"']) },
  // Debian installs predis under /usr/share/php, on php-cli's default include_path.
  phpPredis: { name: "predis (PHP)", apt: "php-cli php-predis", probe: runs(["php", "-r", 'require "Predis/autoload.php"; new Predis\\Client();']) },
  perlRedisFast: { name: "Redis::Fast (Perl)", apt: "libredis-fast-perl", probe: runs(["perl", "-MRedis::Fast", "-e1"]) },
} satisfies Record<string, ToolSpec>;

const answers = new Map<string, boolean>();
const printed = new Set<string>();

/** The line printed for a missing tool (also the failure message under CI=true). */
export function missingLine(tool: ToolSpec, what: string): string {
  return `${what}: ${tool.name} ${tool.otherwise ?? `not found; install it with: apt-get install -y ${tool.apt}`}`;
}

/**
 * True when `tool` is usable. Otherwise prints one line (what is missing, how to install it)
 * and returns false so the caller can skip; under CI=true it also registers a failing test.
 * `what` names the tests that need it, for the printed line. Call it while tests are being
 * collected (module top level or a describe() body): under CI=true it registers a test.
 */
export function requireTool(tool: ToolSpec, what: string): boolean {
  let present = answers.get(tool.name);
  if (present === undefined) {
    present = tool.probe();
    answers.set(tool.name, present);
  }
  if (present) return true;
  const line = missingLine(tool, what);
  if (process.env.CI === "true") {
    test(`needs ${tool.name} (CI=true: a missing tool fails, it does not skip)`, () => {
      throw new Error(line);
    });
  } else if (!printed.has(line)) {
    printed.add(line);
    console.log(`skipping ${line}`);
  }
  return false;
}
