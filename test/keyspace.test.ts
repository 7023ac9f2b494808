// DEL, EXISTS, TYPE, SCAN, KEYS, DBSIZE on a real ezra server: which keys exist (queues, and
// dead views holding tasks), what DEL removes, SCAN's cursor, and redis-cli's --scan and -3 XINFO.
import { expect, test } from "bun:test";
import { globMatch } from "../src/commands/glob.ts";
import { waitBlocked } from "./helpers/plain-client.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";
import { sharedServer } from "./helpers/shared-server.ts";

const server = sharedServer();
const call = server.call;

/** Empties the server between tests that count keys. */
async function flush(): Promise<void> {
  const keys = (await call("KEYS", "*")) as string[];
  if (keys.length > 0) await call("DEL", ...keys);
}

/** Makes `q` hold one dead task (max_attempts 1, nacked once). */
async function withDeadTask(q: string): Promise<void> {
  const id = await call("XADD", q, "*", "max_attempts", 1, "job", "x");
  await call("XREADGROUP", "GROUP", "g", "w", "COUNT", 1000, "STREAMS", q, ">");
  await call("XNACK", q, "g", String(id));
}

test("EXISTS, TYPE, DBSIZE and KEYS see queues; a dead view is a key while it holds tasks", async () => {
  await flush();
  expect(await call("DBSIZE")).toBe(0);
  await call("XADD", "alpha", "*", "a", 1);
  await call("XGROUP", "CREATE", "beta", "g", "$", "MKSTREAM");
  expect(await call("EXISTS", "alpha", "alpha", "beta", "gamma")).toBe(3);
  expect(await call("TYPE", "alpha")).toBe("stream");
  expect(await call("TYPE", "gamma")).toBe("none");
  expect(await call("TYPE", "alpha::dead")).toBe("none");
  await withDeadTask("alpha");
  expect(await call("TYPE", "alpha::dead")).toBe("stream");
  expect(await call("KEYS", "*")).toEqual(["alpha", "alpha::dead", "beta"]);
  expect(await call("KEYS", "*::dead")).toEqual(["alpha::dead"]);
  expect(await call("DBSIZE")).toBe(3);
});

test("DEL on a queue removes its tasks, dead letters, groups and settings; ids start again", async () => {
  await withDeadTask("gone");
  await call("XADD", "gone", "*", "job", "y");
  await call("EZRA", "CONFIG", "SET", "gone", "max_attempts", 7);
  expect(await call("DEL", "gone", "gone", "never")).toBe(1);
  expect(await call("EXISTS", "gone", "gone::dead")).toBe(0);
  expect(await call("XRANGE", "gone::dead", "-", "+")).toEqual([]);
  // A new queue of the same name: empty, default settings, no groups, ids from 0-0 again.
  expect(await call("XADD", "gone", "1-0", "job", "z")).toBe("1-0");
  expect(await call("XRANGE", "gone", "-", "+")).toEqual([["1-0", ["job", "z", "attempts", "0", "max_attempts", "3"]]]);
  const info = (await call("XINFO", "STREAM", "gone")) as (string | number)[];
  expect(info[info.indexOf("groups") + 1]).toBe(0);
});

test("DEL on a dead view removes only the dead tasks", async () => {
  await withDeadTask("keep");
  await call("XADD", "keep", "*", "job", "live");
  expect(await call("DEL", "keep::dead")).toBe(1);
  expect(await call("EXISTS", "keep", "keep::dead")).toBe(1);
  expect(await call("XLEN", "keep")).toBe(1);
});

test("a worker blocked on a deleted queue is answered at once, as Redis 7 answers it", async () => {
  const worker = await server.client();
  await call("XADD", "phoenix", "*", "job", "old");
  await call("XREADGROUP", "GROUP", "g", "w", "STREAMS", "phoenix", ">");
  const waiting = worker.call("XREADGROUP", "GROUP", "g", "w2", "BLOCK", 0, "STREAMS", "phoenix", ">");
  await waitBlocked(server.main, 1);
  expect(await call("DEL", "phoenix")).toBe(1);
  await expect(waiting).rejects.toThrow("UNBLOCKED the stream key no longer exists");
  // The recreated queue starts empty: the old task went with the DEL.
  await call("XADD", "phoenix", "*", "job", "new");
  expect(await call("XLEN", "phoenix")).toBe(1);
});

test("SCAN walks every key once with any COUNT, and filters with MATCH and TYPE", async () => {
  await flush();
  const names = Array.from({ length: 25 }, (_, i) => `scan:${i}`);
  for (const name of names) await call("XADD", name, "*", "a", 1);
  for (const count of [1, 3, 10, 100]) {
    const seen: string[] = [];
    let cursor = "0";
    let calls = 0;
    do {
      const [next, keys] = (await call("SCAN", cursor, "COUNT", count)) as [string, string[]];
      seen.push(...keys);
      cursor = next;
      calls++;
    } while (cursor !== "0" && calls < 100);
    expect(seen.sort()).toEqual([...names].sort());
  }
  const [, matched] = (await call("SCAN", 0, "MATCH", "scan:1?", "COUNT", 1000)) as [string, string[]];
  expect(matched.sort()).toEqual(names.filter((n) => /^scan:1\d$/.test(n)).sort());
  expect(await call("SCAN", 0, "COUNT", 1000, "TYPE", "list")).toEqual(["0", []]);
  const [, streams] = (await call("SCAN", 0, "COUNT", 1000, "TYPE", "STREAM")) as [string, string[]];
  expect(streams.length).toBe(25);
});

test("SCAN returns keys that existed for the whole scan even when others come and go", async () => {
  await flush();
  const stable = Array.from({ length: 20 }, (_, i) => `stay:${i}`);
  for (const name of stable) await call("XADD", name, "*", "a", 1);
  const seen: string[] = [];
  let cursor = "0";
  let step = 0;
  do {
    const [next, keys] = (await call("SCAN", cursor, "COUNT", 2)) as [string, string[]];
    seen.push(...keys);
    cursor = next;
    // Churn between pages: a new key appears and an earlier-made temporary one goes.
    await call("XADD", `churn:${step}`, "*", "a", 1);
    if (step > 0) await call("DEL", `churn:${step - 1}`);
    step++;
  } while (cursor !== "0" && step < 200);
  const stableSeen = seen.filter((k) => k.startsWith("stay:"));
  expect(stableSeen.sort()).toEqual([...stable].sort());
});

test("SCAN and KEYS argument errors are Redis's", async () => {
  await expect(call("SCAN", "x")).rejects.toThrow("ERR invalid cursor");
  await expect(call("SCAN", "-1")).rejects.toThrow("ERR invalid cursor");
  await expect(call("SCAN", 0, "COUNT", 0)).rejects.toThrow("ERR syntax error");
  await expect(call("SCAN", 0, "COUNT", "x")).rejects.toThrow("ERR value is not an integer or out of range");
  await expect(call("SCAN", 0, "MATCH")).rejects.toThrow("ERR syntax error");
  await expect(call("SCAN", 0, "FOO", 1)).rejects.toThrow("ERR syntax error");
  await expect(call("KEYS")).rejects.toThrow("ERR wrong number of arguments for 'keys' command");
  await expect(call("TYPE", "a", "b")).rejects.toThrow("ERR wrong number of arguments for 'type' command");
  expect(await call("SCAN", "99999999999999999999")).toEqual(["0", []]);
});

test("glob patterns follow Redis: *, ?, classes, negation, ranges, escapes", () => {
  const cases: [string, string, boolean][] = [
    ["*", "", true],
    ["*", "anything", true],
    ["h?llo", "hello", true],
    ["h?llo", "hllo", false],
    ["h*llo", "heeeello", true],
    ["h*llo", "hello!", false],
    ["h[ae]llo", "hallo", true],
    ["h[ae]llo", "hillo", false],
    ["h[^e]llo", "hallo", true],
    ["h[^e]llo", "hello", false],
    ["h[a-b]llo", "hbllo", true],
    ["h[b-a]llo", "hallo", true],
    ["h[a-b]llo", "hcllo", false],
    ["h\\*llo", "h*llo", true],
    ["h\\*llo", "hello", false],
    ["[\\]]", "]", true],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "aXXbYY", false],
    ["*::dead", "q::dead", true],
    ["q[", "q", false],
    ["a*a*a*a*a*a*a*a*b", "a".repeat(60), false],
  ];
  for (const [pattern, subject, want] of cases) expect({ pattern, subject, matched: globMatch(pattern, subject) }).toEqual({ pattern, subject, matched: want });
});

const redisCli = requireTool(TOOLS.redisCli, "redis-cli --scan and -3 XINFO");

test.skipIf(!redisCli)("redis-cli --scan (with --pattern) lists ezra's queues", async () => {
  await flush();
  for (const name of ["cli:a", "cli:b", "other"]) await call("XADD", name, "*", "a", 1);
  const run = async (...args: string[]) => {
    const proc = Bun.spawn(["redis-cli", "-p", String(server.port), ...args], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    return out.split("\n").filter(Boolean).sort();
  };
  expect(await run("--scan")).toEqual(["cli:a", "cli:b", "other"]);
  expect(await run("--scan", "--pattern", "cli:*")).toEqual(["cli:a", "cli:b"]);
  const info = (await run("-3", "XINFO", "STREAM", "cli:a")).join("\n");
  expect(info).toContain("last-generated-id");
  expect(info).toContain("ezra-available 1");
  expect(info).not.toContain("ERR");
});
