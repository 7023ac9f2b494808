// The `ezra` command line as a user meets it: the first run with no flags (a default data dir,
// a startup report to act on), --help and --version, durations with units, one-line errors
// naming the flag or env var as typed (with the nearest valid flag), a port in use, data dirs
// that cannot be made or written, EZRA_* env vars under flags, the data-dir lock, `ezra backup
// --help`, and clean shutdown on SIGTERM/SIGINT that answers a client blocked in XREADGROUP BLOCK 0.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "redis";
import { defaultDataDir, envName, formatDuration, OPTIONS, parseDuration } from "../src/config.ts";
import { versionLine } from "../src/version.ts";
import pkg from "../package.json" with { type: "json" };
import { BUN, freePort, ROOT, removeDir, startEzra, tempDir } from "./helpers/servers.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";

const MAIN = join(ROOT, "src", "main.ts");
/** A CLI run that should end by itself; killed after this long so a hang fails, not stalls. */
const RUN_MS = 20_000;
const TEST_MS = 30_000;
/** The environment without the developer's own EZRA_* settings or XDG data home. */
const BASE_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith("EZRA_") && k !== "XDG_DATA_HOME"),
) as Record<string, string>;
const ESC = "\x1b";
const haveCli = requireTool(TOOLS.redisCli, "running the startup report's redis-cli line");

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

/** Starts ezra with exactly these flags and env; resolves once the startup report (ending in "try:") is out. */
async function serve(args: string[], env: Record<string, string>) {
  const proc = Bun.spawn([BUN, MAIN, ...args], { cwd: ROOT, env: { ...BASE_ENV, ...env }, stdout: "pipe", stderr: "pipe" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let report = "";
  while (!/\n {2}try: [^\n]*\n/.test(report)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`ezra exited ${await proc.exited}: ${report}${await new Response(proc.stderr).text()}`);
    report += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const port = Number(/listening on \S+:\/\/\S+:(\d+)\n/.exec(report)?.[1]);
  return { proc, report, line: report.split("\n")[0], port };
}

/** Each report line by its label: "data", "address", "auth", "durability", "try". */
const reportFields = (report: string) =>
  Object.fromEntries([...report.matchAll(/^ {2}(\w+): +(.*)$/gm)].map((m) => [m[1], m[2]])) as Record<string, string>;

/** A fresh home: HOME points here, XDG_DATA_HOME is unset, so the default data dir is inside it. */
const freshHome = () => {
  const home = newDir();
  return { home, env: { HOME: home }, dataDir: join(home, ".local", "share", "ezra") };
};

const url = (port: number) => `redis://127.0.0.1:${port}`;

/** Pushes one task and pops it: the max_attempts it was delivered with shows the setting in force. */
async function deliveredMaxAttempts(port: number): Promise<string> {
  const client = await createClient({ url: url(port) }).connect();
  await client.xAdd("settings", "*", { job: "x" });
  const read = await client.xReadGroup("g", "c", { key: "settings", id: ">" });
  await client.close();
  return (read as { messages: { message: Record<string, string> }[] }[])[0].messages[0].message.max_attempts;
}

/** Reads the server-wide settings back over the protocol (on a queue that only has defaults). */
async function settingsOf(port: number): Promise<Record<string, string>> {
  const client = await createClient({ url: url(port) }).connect();
  await client.xAdd("probe", "*", { job: "x" });
  const config = await client.sendCommand(["EZRA", "CONFIG", "GET", "probe"]);
  await client.close();
  // A flat array over RESP2, a map (an object here) over RESP3, node-redis 6's default.
  return Array.isArray(config) ? Object.fromEntries(config.flatMap((v, i) => (i % 2 ? [] : [[v, config[i + 1]]]))) : (config as unknown as Record<string, string>);
}

async function stopped(proc: ReturnType<typeof Bun.spawn>) {
  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
}

describe("first run: no flags", () => {
  test("uses the default data dir (created, owner-only) and reports data, address, auth, durability and a line to try", async () => {
    const { env, dataDir } = freshHome();
    expect(existsSync(dataDir)).toBe(false);
    // EZRA_PORT=0 only so the test cannot collide with a server on 42002; no flag is given.
    const { proc, report, port } = await serve([], { ...env, EZRA_PORT: "0" });
    try {
      expect(report.split("\n")[0]).toBe(`ezra ${pkg.version} listening on redis://127.0.0.1:${port}`);
      const fields = reportFields(report);
      expect(fields.data).toStartWith(`${join(dataDir, "ezra.db")} (the default data dir`);
      expect(fields.address).toStartWith(`127.0.0.1:${port} (loopback`);
      expect(fields.auth).toStartWith("off");
      expect(fields.durability).toStartWith("full");
      expect(fields.try).toBe(`redis-cli -p ${port} XADD jobs '*' task hello`);
      expect(existsSync(join(dataDir, "ezra.db"))).toBe(true);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      if (haveCli) {
        // The line works as printed, through a shell, as a user would paste it.
        const tried = Bun.spawnSync(["sh", "-c", fields.try], { timeout: 10_000 });
        expect(tried.stdout.toString()).toMatch(/^\d+-\d+\n$/);
        const client = await createClient({ url: url(port) }).connect();
        expect(await client.xLen("jobs")).toBe(1);
        await client.close();
      }
      // `ezra backup` finds the same default data dir.
      const out = join(newDir(), "copy.db");
      const backup = await run(["backup", "--out", out], env);
      expect([backup.code, backup.stderr]).toEqual([0, ""]);
      expect(backup.stdout).toContain(`copying ${join(dataDir, "ezra.db")}`);
      expect(existsSync(out)).toBe(true);
    } finally {
      await stopped(proc);
    }
  }, TEST_MS);

  test("with nothing set at all it serves on 42002, or says that address is in use", async () => {
    const { env, dataDir } = freshHome();
    const result = Bun.spawn([BUN, MAIN], { cwd: ROOT, env: { ...BASE_ENV, ...env }, stdout: "pipe", stderr: "pipe" });
    const reader = (result.stdout as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    reader.releaseLock();
    if (!first.done) {
      expect(new TextDecoder().decode(first.value)).toStartWith(`ezra ${pkg.version} listening on redis://127.0.0.1:42002\n`);
      expect(existsSync(join(dataDir, "ezra.db"))).toBe(true);
      await stopped(result);
    } else {
      // Something else holds 42002 on this machine: the failure must say so, on one line.
      expect(await result.exited).toBe(1);
      expect(await new Response(result.stderr).text()).toMatch(/^ezra: cannot listen on 127\.0\.0\.1:42002: address already in use[^\n]*\n$/);
    }
  }, TEST_MS);

  test("XDG_DATA_HOME, when absolute, holds the default data dir", async () => {
    const xdg = newDir();
    const { proc, report } = await serve([], { HOME: newDir(), XDG_DATA_HOME: xdg, EZRA_PORT: "0" });
    try {
      expect(reportFields(report).data).toStartWith(`${join(xdg, "ezra", "ezra.db")} `);
    } finally {
      await stopped(proc);
    }
  }, TEST_MS);

  test("the default data dir per platform", () => {
    expect(defaultDataDir({ HOME: "/home/u" }, "linux")).toBe("/home/u/.local/share/ezra");
    expect(defaultDataDir({ HOME: "/Users/u" }, "darwin")).toBe("/Users/u/.local/share/ezra");
    expect(defaultDataDir({ HOME: "/home/u", XDG_DATA_HOME: "/data" }, "linux")).toBe("/data/ezra");
    expect(defaultDataDir({ HOME: "/home/u", XDG_DATA_HOME: "relative" }, "linux")).toBe("/home/u/.local/share/ezra");
    expect(defaultDataDir({ LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" }, "win32")).toBe("C:\\Users\\u\\AppData\\Local\\ezra");
    expect(defaultDataDir({ USERPROFILE: "C:\\Users\\u" }, "win32")).toBe("C:\\Users\\u\\AppData\\Local\\ezra");
  });

  test("a default data dir that cannot be created: one line, exit 2", async () => {
    const file = join(newDir(), "a-file");
    writeFileSync(file, "");
    const result = await run(["--port", "0"], { HOME: file });
    expect(result.stderr).toBe(`ezra: --data-dir: cannot create the default data dir ${join(file, ".local", "share", "ezra")}: not a directory (ENOTDIR)\n`);
    expect(result.code).toBe(2);
  }, TEST_MS);

  test("the report says when auth is on, TLS aside, and what durability normal risks", async () => {
    const { proc, report, port } = await serve(["--data-dir", newDir(), "--port", "0", "--durability", "normal"], { EZRA_PASSWORD: "s3cret" });
    try {
      const fields = reportFields(report);
      expect(fields.auth).toStartWith("on");
      expect(fields.durability).toStartWith("normal");
      expect(fields.data).not.toContain("default");
      expect(fields.try).toBe(`redis-cli -p ${port} --askpass XADD jobs '*' task hello`);
      expect(report).not.toContain("s3cret");
    } finally {
      await stopped(proc);
    }
  }, TEST_MS);
});

test("--help lists every flag with its env var, durations in their unit, no colour; --version and -v print versionLine()", async () => {
  const help = await run(["--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("Usage: ezra [options]");
  for (const option of OPTIONS) {
    expect(help.stdout).toMatch(new RegExp(`^ {2}--${option.flag}\\b[^\\n]*\\[${envName(option.flag)}\\]$`, "m"));
  }
  const row = (flag: string) => help.stdout.split("\n").find((l) => l.startsWith(`  --${flag} `)) ?? "";
  expect(row("visibility-timeout")).toContain("DURATION");
  expect(row("visibility-timeout")).toContain("Default 30s.");
  expect(row("retention-seconds")).toContain("Default 1h.");
  expect(help.stdout).not.toMatch(/30000|3600000/);
  expect(help.stdout).toContain("DURATION: a bare number is seconds; or give a unit: 500ms, 30s, 5m, 2h, 7d.");
  expect(help.stdout).not.toContain(ESC);
  expect((await run(["-h"])).stdout).toBe(help.stdout);
  for (const flag of ["--version", "-v"]) {
    const version = await run([flag]);
    expect([version.code, version.stdout, version.stderr]).toEqual([0, `${versionLine()}\n`, ""]);
  }
  expect(versionLine()).toStartWith(`ezra ${pkg.version} (commit `);
}, TEST_MS);

test("ezra backup --help has the main help's layout and no colour, even where citty would colour", async () => {
  // TERM and FORCE_COLOR as a colour terminal would set them; stdout is a pipe here. A fresh
  // HOME: `ezra backup` with no --data-dir looks at the default data dir.
  const env = { TERM: "xterm-256color", FORCE_COLOR: "1", ...freshHome().env };
  const main = await run(["--help"], env);
  const backup = await run(["backup", "--help"], env);
  expect(backup.code).toBe(0);
  /** Each line's part in the layout, runs collapsed: title, blank, usage, blank, heading, rows, blank, notes. */
  const layout = (text: string) =>
    text.trimEnd().split("\n")
      .map((l, i) => (i === 0 ? "title" : l === "" ? "blank" : /^(Usage: | {7}\S)/.test(l) ? "usage" : /^Options \(.*\):$/.test(l) ? "heading" : /^ {2}--/.test(l) ? "row" : "note"))
      .filter((kind, i, all) => kind !== all[i - 1]);
  expect(layout(main.stdout)).toEqual(["title", "blank", "usage", "blank", "heading", "row", "blank", "note"]);
  expect(layout(backup.stdout)).toEqual(layout(main.stdout));
  // Within each help, every row's text starts in one column.
  for (const text of [main.stdout, backup.stdout]) {
    const columns = text.split("\n").filter((l) => /^ {2}--/.test(l)).map((l) => /^ {2}\S.*? {2,}(?=\S)/.exec(l)?.[0].length);
    expect(new Set(columns).size).toBe(1);
  }
  expect(backup.stdout).toStartWith("ezra backup: ");
  expect(backup.stdout).toContain("\nUsage: ezra backup [--data-dir DIR] --out FILE\n");
  expect(backup.stdout).toMatch(/\n {2}--data-dir DIR {2,}The server's data directory\. Default [^\n]+\[EZRA_DATA_DIR\]\n/);
  expect(backup.stdout).toMatch(/\n {2}--out FILE {2,}/);
  for (const result of [main, backup, await run(["backup", "--bogus"], env), await run(["backup"], env), await run(["--bogus"], env)]) {
    expect(result.stdout + result.stderr).not.toContain(ESC);
  }
}, TEST_MS);

const BAD: [string, string[], Record<string, string>][] = [
  ["--port", ["--port", "abc"], {}],
  ["--port", ["--port", "70000"], {}],
  ["--port", ["--port"], {}],
  ["--durability", ["--durability", "fast"], {}],
  ["--max-attempts", ["--max-attempts", "0"], {}],
  ["--max-attempts", ["--max-attempts", "-1"], {}],
  ["--visibility-timeout", ["--visibility-timeout", "soon"], {}],
  ["--visibility-timeout", ["--visibility-timeout", "0"], {}],
  ["--retention-seconds", ["--retention-seconds", "5w"], {}],
  ["--prot", ["--prot", "1"], {}],
  ["-x", ["-x"], {}],
  ["--allow-public", ["--allow-public=maybe"], {}],
  ["EZRA_DURABILITY", [], { EZRA_DURABILITY: "fast" }],
  ["EZRA_PORT", [], { EZRA_PORT: "abc" }],
  ["EZRA_VISIBILITY_TIMEOUT", [], { EZRA_VISIBILITY_TIMEOUT: "30 s" }],
];

for (const [name, args, env] of BAD) {
  test(`${[...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(" ")}: one line naming ${name}, exit 2`, async () => {
    // --port 0 keeps a valid case off port 42002; left out when EZRA_PORT is the one judged (a flag would win).
    const base = ["--data-dir", newDir(), ...(env.EZRA_PORT ? [] : ["--port", "0"])];
    const result = await run([...base, ...args], env);
    expect(result.stderr).toMatch(new RegExp(`^ezra: ${name}: [^\\n]+\\n$`));
    expect(result.stdout).toBe("");
    expect(result.code).toBe(2);
  }, TEST_MS);
}

test("duration errors say the unit and the suffixes", async () => {
  const result = await run(["--data-dir", newDir(), "--port", "0", "--visibility-timeout", "soon"]);
  expect(result.stderr).toBe(
    "ezra: --visibility-timeout: invalid value 'soon', expected a duration above 0 up to 10 years " +
      "(a bare number is seconds; or give a unit: 500ms, 30s, 5m, 2h, 7d)\n",
  );
}, TEST_MS);

test("unknown flags are named as typed, with the nearest valid flag", async () => {
  const cases: [string[], string][] = [
    [["--data-dri", "x"], "ezra: --data-dri: unknown flag (did you mean --data-dir?)\n"],
    [["-x"], "ezra: -x: unknown flag (see ezra --help)\n"],
    [["-port", "1"], "ezra: -port: unknown flag (did you mean --port?)\n"],
    [["--retention", "7d"], "ezra: --retention: unknown flag (did you mean --retention-seconds?)\n"],
    [["--visibility=5"], "ezra: --visibility: unknown flag (did you mean --visibility-timeout?)\n"],
    [["--no-port"], "ezra: --no-port: unknown flag (did you mean --port?)\n"],
    [["backup", "--output", "x"], "ezra backup: --output: unknown flag (did you mean --out?)\n"],
    [["backup", "--data-dri", "x"], "ezra backup: --data-dri: unknown flag (did you mean --data-dir?)\n"],
    [["stray"], "ezra: unexpected argument 'stray' (see ezra --help)\n"],
  ];
  for (const [args, stderr] of cases) {
    const result = await run(args);
    expect([result.stderr, result.code]).toEqual([stderr, 2]);
  }
}, TEST_MS);

test("a switch is on as --X or --X=VALUE (read as its env var), off as --no-X or --X=0|false|no|off; the last one wins", async () => {
  const missing = join(newDir(), "not-there");
  const cases: [string[], boolean][] = [
    [["--allow-public"], true], [["--allow-public=yes"], true], [["--allow-public=0"], false], [["--allow-public=false"], false],
    [["--allow-public=off"], false], [["--no-allow-public"], false], [["--allow-public", "--no-allow-public"], false],
    [["--no-allow-public", "--allow-public"], true], [["--allow-public=0", "--allow-public"], true],
  ];
  for (const [args, on] of cases) {
    // A public host is refused unless --allow-public is on; past that, the missing data dir stops it.
    const result = await run(["--data-dir", missing, "--port", "0", "--host", "0.0.0.0", ...args]);
    expect([result.code, result.stderr.split(":")[1]]).toEqual([2, on ? " --data-dir" : " --host"]);
  }
}, TEST_MS);

test("--help and --version win over a bad command line; a value flag takes them as its value", async () => {
  const help = (await run(["--help"])).stdout;
  for (const args of [["--bogus", "--help"], ["stray", "-h"], ["--port", "0", "backup", "--help"]]) {
    expect(await run(args)).toEqual({ stdout: help, stderr: "", code: 0 });
  }
  expect(await run(["stray", "--version"])).toEqual({ stdout: `${versionLine()}\n`, stderr: "", code: 0 });
  expect((await run(["--port", "--help"])).stderr).toBe("ezra: --port: invalid value '--help', expected a whole number from 0 to 65535\n");
  expect((await run(["--h"])).stderr).toBe("ezra: --h: unknown flag (see ezra --help)\n");
}, TEST_MS);

test("durations take ms, s, m, h, d suffixes from flags and env; a bare number is seconds", async () => {
  expect([parseDuration("30"), parseDuration("1.5"), parseDuration("500ms"), parseDuration("30s")]).toEqual([30_000, 1500, 500, 30_000]);
  expect([parseDuration("5m"), parseDuration("2h"), parseDuration("7d")]).toEqual([300_000, 7_200_000, 604_800_000]);
  expect([parseDuration("soon"), parseDuration("5w"), parseDuration("-1"), parseDuration("3651d"), parseDuration("0.1ms", 1)]).toEqual([null, null, null, null, null]);
  expect([formatDuration(30_000), formatDuration(3_600_000), formatDuration(1500), formatDuration(604_800_000)]).toEqual(["30s", "1h", "1500ms", "7d"]);
  const cases: [string[], Record<string, string>, Record<string, string>][] = [
    [["--visibility-timeout", "2m", "--retention-seconds", "7d"], {}, { visibility_timeout: "120", retention: "604800" }],
    [[], { EZRA_VISIBILITY_TIMEOUT: "1500ms", EZRA_RETENTION_SECONDS: "1h" }, { visibility_timeout: "1.5", retention: "3600" }],
    [["--visibility-timeout", "45"], { EZRA_RETENTION_SECONDS: "90" }, { visibility_timeout: "45", retention: "90" }],
  ];
  for (const [args, env, expected] of cases) {
    const { proc, port } = await serve(["--data-dir", newDir(), "--port", "0", ...args], env);
    try {
      expect(await settingsOf(port)).toMatchObject(expected);
    } finally {
      await stopped(proc);
    }
  }
}, TEST_MS);

test("a port in use: one line saying 'address already in use' and host:port, exit 1", async () => {
  const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    for (const [args, env, via] of [
      [["--port", String(taken.port)], {}, "--port"],
      [[], { EZRA_PORT: String(taken.port) }, "EZRA_PORT"],
    ] as [string[], Record<string, string>, string][]) {
      const result = await run(["--data-dir", newDir(), ...args], env);
      expect(result.stderr).toBe(
        `ezra: cannot listen on 127.0.0.1:${taken.port}: address already in use (another program listens there; choose another port with ${via})\n`,
      );
      expect([result.code, result.stdout]).toEqual([1, ""]);
    }
  } finally {
    taken.stop(true);
  }
}, TEST_MS);

test("a named data dir that is missing is an error unless --create-data-dir; one that cannot be created: one line, exit 2", async () => {
  const missing = join(newDir(), "not-there");
  const absent = await run(["--data-dir", missing, "--port", "0"]);
  expect(absent.stderr).toBe(`ezra: --data-dir: ${missing} does not exist (create it, or pass --create-data-dir)\n`);
  expect(absent.code).toBe(2);
  const fromEnv = await run(["--port", "0"], { EZRA_DATA_DIR: missing });
  expect(fromEnv.stderr).toStartWith(`ezra: EZRA_DATA_DIR: ${missing} does not exist`);

  const file = join(newDir(), "a-file");
  writeFileSync(file, "");
  const underFile = await run(["--data-dir", join(file, "data"), "--create-data-dir", "--port", "0"]);
  expect(underFile.stderr).toBe(`ezra: --data-dir: cannot create ${join(file, "data")}: not a directory (ENOTDIR)\n`);
  expect(underFile.code).toBe(2);
  const isFile = await run(["--data-dir", file, "--port", "0"]);
  expect([isFile.stderr, isFile.code]).toEqual([`ezra: --data-dir: ${file} is not a directory\n`, 2]);

  const { proc, report } = await serve(["--data-dir", missing, "--create-data-dir", "--port", "0"], {});
  try {
    expect(reportFields(report).data).toBe(join(missing, "ezra.db"));
  } finally {
    await stopped(proc);
  }
}, TEST_MS);

// /proc refuses new files even to root, so these hold whoever runs the tests.
describe.skipIf(process.platform !== "linux")("paths under /proc", () => {
  test("--create-data-dir under /proc: one line, exit 2, no stack trace", async () => {
    const result = await run(["--data-dir", "/proc/ezra-test/data", "--create-data-dir", "--port", "0"]);
    expect(result.stderr).toMatch(/^ezra: --data-dir: cannot create \/proc\/ezra-test\/data: [^\n]+\n$/);
    expect(result.code).toBe(2);
  }, TEST_MS);

  test("a data dir that is not writable: one line, exit 1", async () => {
    const result = await run(["--data-dir", "/proc", "--port", "0"]);
    expect(result.stderr).toMatch(/^ezra: \/proc is not writable \(creating ezra\.lock there: [^\n]+\): ezra writes ezra\.db[^\n]*\n$/);
    expect(result.code).toBe(1);
  }, TEST_MS);
});

test("EZRA_* env vars configure the server when no flag is given", async () => {
  const dataDir = newDir();
  const port = freePort();
  const { proc, report } = await serve([], {
    EZRA_DATA_DIR: dataDir,
    EZRA_PORT: String(port),
    EZRA_MAX_ATTEMPTS: "4",
    EZRA_VISIBILITY_TIMEOUT: "120",
  });
  try {
    expect(report).toStartWith(`ezra ${pkg.version} listening on redis://127.0.0.1:${port}\n`);
    expect(reportFields(report).data).toBe(join(dataDir, "ezra.db"));
    expect(await deliveredMaxAttempts(port)).toBe("4");
    expect(await settingsOf(port)).toMatchObject({ visibility_timeout: "120", max_attempts: "4" });
  } finally {
    await stopped(proc);
  }
}, TEST_MS);

test("flags win over EZRA_* env vars", async () => {
  // The env port is taken: the server only starts if --port wins.
  const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const dataDir = newDir();
  try {
    const { proc, report, port } = await serve(["--data-dir", dataDir, "--port", "0", "--max-attempts", "5"], {
      EZRA_DATA_DIR: join(dataDir, "not-there"),
      EZRA_PORT: String(taken.port),
      EZRA_MAX_ATTEMPTS: "4",
    });
    try {
      expect(port).not.toBe(taken.port);
      expect(reportFields(report).data).toBe(join(dataDir, "ezra.db"));
      expect(await deliveredMaxAttempts(port)).toBe("5");
    } finally {
      await stopped(proc);
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
