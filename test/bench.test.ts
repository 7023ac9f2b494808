// The benchmark's own parts: its RESP client parses replies split anywhere, its rate and
// percentile helpers, and a tiny end-to-end run of scripts/bench.ts that emits JSON lines.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Blob, encode, type Reply, ReplyError, RespClient } from "../scripts/bench/client.ts";
import { percentile } from "../scripts/bench/report.ts";
import { rateBetween } from "../scripts/bench/workload.ts";
import { BUN, ROOT } from "./helpers/servers.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";

// A server that reads and never answers: the test feeds the client's replies by hand.
let silent: import("bun").TCPSocketListener<undefined>;
beforeAll(() => {
  silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
});
afterAll(() => silent.stop(true));

const REPLIES = Buffer.from(
  "+OK\r\n-ERR bad thing\r\n:42\r\n$-1\r\n*-1\r\n_\r\n$3\r\nabc\r\n" +
    `*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\np\r\n$70\r\n${"x".repeat(70)}\r\n:7\r\n`,
);
const EXPECTED: Reply[] = [
  "OK", new ReplyError("ERR bad thing"), 42, null, null, null, "abc",
  [["1-0", ["p", new Blob(70)]], 7],
];

async function parsedIn(chunks: Buffer[]): Promise<Reply[]> {
  const client = await RespClient.connect(silent.port);
  const got: Reply[] = [];
  for (let i = 0; i < EXPECTED.length; i++) client.send(encode(["PING"]), (r) => got.push(r));
  for (const chunk of chunks) client.receive(chunk);
  client.close();
  return got;
}

test("the bench client parses replies whole, byte by byte, and in random splits", async () => {
  expect(await parsedIn([REPLIES])).toEqual(EXPECTED);
  expect(await parsedIn([...REPLIES].map((b) => Buffer.from([b])))).toEqual(EXPECTED);
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 20; round++) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < REPLIES.length; ) {
      const size = 1 + Math.floor(random() * 12);
      chunks.push(Buffer.from(REPLIES.subarray(at, at + size)));
      at += size;
    }
    expect(await parsedIn(chunks)).toEqual(EXPECTED);
  }
});

test("commands waiting when the connection closes get an error reply", async () => {
  const client = await RespClient.connect(silent.port);
  const reply = client.call(["PING"]);
  client.close();
  expect(await reply).toBeInstanceOf(ReplyError);
});

test("percentile and rateBetween", () => {
  const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
  expect(percentile(samples, 50)).toBe(50);
  expect(percentile(samples, 99)).toBe(99);
  expect(percentile([], 50)).toBeNaN();
  // 10 tasks acked every 10 ms: 1,000 tasks/s anywhere along the drain.
  const marks = Array.from({ length: 20 }, (_, i) => [(i + 1) * 10, i * 10]).flat();
  expect(rateBetween(marks, 0, 100)).toBeCloseTo(1000);
  expect(rateBetween(marks, 100, 200)).toBeCloseTo(1000);
  expect(rateBetween(marks, 500, 600)).toBeNaN();
});

/** One JSON line of the bench's output (fields depend on `kind`). */
type Row = { kind: string; server?: string; preset?: string } & Record<string, unknown>;

/** Runs a tiny scripts/bench.ts against `servers`; checks the exit code and returns the JSON rows. */
async function tinyBench(servers: string): Promise<{ rows: Row[]; err: string }> {
  const proc = Bun.spawn([BUN, join(ROOT, "scripts", "bench.ts"), "--preset", "1x1,backlog", "--servers", servers, "--n", "300", "--quick"], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code, err).toBe(0);
  const rows = out.trim().split("\n").map((line) => JSON.parse(line) as Row);
  expect(rows[0].kind).toBe("run");
  expect(rows.filter((r) => r.kind === "error")).toEqual([]);
  return { rows, err };
}

test("a tiny bench run emits a run row and workload rows", async () => {
  const { rows, err } = await tinyBench("ezra-normal");
  const life = rows.find((r) => r.kind === "lifecycle" && r.server === "ezra-normal");
  expect(life).toMatchObject({ preset: "1x1", tasks: 300, producers: 1, consumers: 1 });
  expect(life?.tasksPerSec).toBeGreaterThan(0);
  const backlog = rows.find((r) => r.kind === "backlog" && r.server === "ezra-normal");
  expect(backlog?.drainStartPerSec).toBeGreaterThan(0);
  expect(err).toContain("| preset");
}, 60_000);

test.skipIf(!requireTool(TOOLS.redisServer, "the bench run against Redis"))("with redis-server, the tiny run adds redis rows and ratios", async () => {
  const { rows, err } = await tinyBench("ezra-normal,redis");
  expect(rows.find((r) => r.kind === "lifecycle" && r.server === "redis")?.tasksPerSec).toBeGreaterThan(0);
  expect(rows.filter((r) => r.kind === "ratio").map((r) => r.preset)).toEqual(["1x1", "backlog"]);
  expect(err).toContain("| ratio");
}, 60_000);

test("bad flags are refused with exit code 2", async () => {
  const proc = Bun.spawn([BUN, join(ROOT, "scripts", "bench.ts"), "--preset", "nope"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(await proc.exited).toBe(2);
  expect(await new Response(proc.stderr).text()).toContain("unknown preset 'nope'");
});
