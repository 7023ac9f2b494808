// The fresh-machine rule in one place: a test that needs a tool npm cannot give asks here.
// Present: true. Absent: one printed line naming the tool and its apt-get line, and false
// (the caller skips); under CI=true an absent tool is a failing test instead, never a skip.
import { test } from "bun:test";

export interface ToolSpec {
  /** What the user is missing, as they would name it. */
  name: string;
  /** Debian packages that bring it. */
  apt: string;
  /** True when the tool is usable here. */
  probe: () => boolean;
}

const onPath = (command: string) => () => Bun.which(command) !== null;

/** Debian's own python3 (where python3-redis is importable), not another one earlier on PATH. */
export const SYSTEM_PYTHON = process.env.EZRA_TEST_SYSTEM_PYTHON ?? "/usr/bin/python3";

const runs = (argv: string[]) => () => {
  if (Bun.which(argv[0]) === null && !argv[0].startsWith("/")) return false;
  try {
    return Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore", timeout: 10_000 }).exitCode === 0;
  } catch {
    return false;
  }
};

export const TOOLS = {
  redisServer: { name: "redis-server", apt: "redis-server", probe: onPath("redis-server") },
  redisCli: { name: "redis-cli", apt: "redis-tools", probe: onPath("redis-cli") },
  redisPy: { name: "redis-py (Debian's python3-redis)", apt: "python3-redis", probe: runs([SYSTEM_PYTHON, "-c", "import redis"]) },
  openssl: { name: "openssl", apt: "openssl", probe: onPath("openssl") },
  curl: { name: "curl", apt: "curl", probe: onPath("curl") },
  wget: { name: "wget", apt: "wget", probe: onPath("wget") },
  shellcheck: { name: "shellcheck", apt: "shellcheck", probe: onPath("shellcheck") },
} satisfies Record<string, ToolSpec>;

const answers = new Map<string, boolean>();

/**
 * True when `tool` is usable. Otherwise prints one line (what is missing, how to install it)
 * and returns false so the caller can skip; under CI=true it also registers a failing test.
 * `what` names the tests that need it, for the printed line.
 */
export function requireTool(tool: ToolSpec, what: string): boolean {
  let present = answers.get(tool.name);
  if (present === undefined) {
    present = tool.probe();
    answers.set(tool.name, present);
  }
  if (present) return true;
  const line = `${what}: ${tool.name} not found; install it with: apt-get install -y ${tool.apt}`;
  if (process.env.CI === "true") {
    test(`${tool.name} is installed (CI=true: nothing may skip)`, () => {
      throw new Error(line);
    });
  } else {
    console.log(`skipping ${line}`);
  }
  return false;
}
