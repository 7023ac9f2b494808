// The benchmark's own parts: its RESP client parses replies split anywhere, its rate, percentile
// and dd helpers, and tiny end-to-end runs of scripts/bench.ts (every preset) that emit JSON
// lines with the fields each preset documents. Shapes only: no timing is asserted.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Blob, encode, type Reply, ReplyError, RespClient } from "../scripts/bench/client.ts";
import { parseDd } from "../scripts/bench/disk.ts";
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

test("dd's summary line gives MB/s", () => {
  const err = "2000+0 records in\n2000+0 records out\n131072000 bytes (131 MB, 125 MiB) copied, 0.5 s, 262 MB/s\n";
  expect(parseDd(err)).toEqual({ bytes: 131072000, seconds: 0.5, mbPerSec: 262.1 });
  expect(parseDd("65536 bytes (66 kB, 64 KiB) copied, 5e-05 s, 1.3 GB/s").mbPerSec).toBeCloseTo(1310.7);
  expect(() => parseDd("dd: failed to open")).toThrow();
});

/** One JSON line of the bench's output (fields depend on `kind`). */
type Row = { kind: string; server?: string; preset?: string } & Record<string, unknown>;

/** Runs a tiny scripts/bench.ts of `presets` against `servers`; checks the exit code and returns the JSON rows. */
async function tinyBench(servers: string, presets: string): Promise<{ rows: Row[]; err: string }> {
  const proc = Bun.spawn([BUN, join(ROOT, "scripts", "bench.ts"), "--preset", presets, "--servers", servers, "--n", "300", "--quick"], {
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

const positive = expect.any(Number);
/** A size in bytes sampled from a file: a number, possibly 0 (a checkpoint may have just truncated the WAL). */
const bytes = expect.any(Number);

test("a tiny bench run of every preset emits a row with each preset's fields", async () => {
  const presets = "1x1,push,fat,backlog,latency,memory,idle-cpu,startup";
  const { rows, err } = await tinyBench("ezra-normal", presets);
  const row = (kind: string, preset?: string) => rows.find((r) => r.kind === kind && r.server === "ezra-normal" && (!preset || r.preset === preset));
  expect(row("lifecycle", "1x1")).toMatchObject({ tasks: 300, producers: 1, consumers: 1, tasksPerSec: positive, walMaxBytes: bytes, walFinalBytes: bytes });
  expect(row("push", "push")).toMatchObject({ tasks: 300, producers: 8, inFlightPerProducer: 64, tasksPerSec: positive, walMaxBytes: bytes });
  expect(row("lifecycle", "fat")).toMatchObject({
    payloadBytes: 16384, producers: 8, consumers: 8, count: 16, payloadMBps: positive, pushPayloadMBps: positive, ddBytes: positive, ddMBps: positive,
  });
  expect(row("backlog")).toMatchObject({
    drainStartPerSec: positive, windowTasks: 75, deepWaiting: 225, deepPerSec: positive, shallowWaiting: 150, shallowPerSec: positive,
    deepVsShallow: positive, walMaxBytes: bytes,
  });
  const latency = row("latency");
  expect(latency).toMatchObject({ producers: 8, consumers: 8, count: 16, loadTasksPerSec: positive, probeCycles: positive, walMaxBytes: bytes });
  for (const key of ["cycleP50Ms", "cycleP99Ms", "cycleMaxMs", "xaddP50Ms", "xaddP99Ms", "readP50Ms", "readP99Ms", "ackP50Ms", "ackP99Ms"]) {
    expect(latency?.[key], key).toBeGreaterThan(0);
  }
  expect(row("memory")).toMatchObject({ idleRssBytes: positive, bytesPerConnection: expect.any(Number), waitingTasks: 300, rssWithTasksBytes: positive, bytesPerWaitingTask: expect.any(Number) });
  expect(row("idle-cpu")).toMatchObject({ cpuSecondsPer10s: expect.any(Number) });
  expect(row("startup")).toMatchObject({ tasks: 300, waiting: 240, inFlight: 30, done: 30, startMs: positive, emptyStartMs: positive });
  for (const text of ["| preset", "| latency", "backlog (ezra-normal): pop+ack", "fat (ezra-normal):", "MB/s", "bytes/waiting task", "start-up (ezra-normal)"]) {
    expect(err).toContain(text);
  }
}, 120_000);

test.skipIf(!requireTool(TOOLS.redisServer, "the bench run against Redis"))("with redis-server, the tiny run adds redis rows and ratios", async () => {
  const { rows, err } = await tinyBench("ezra-normal,redis", "1x1,push,backlog,latency");
  expect(rows.find((r) => r.kind === "lifecycle" && r.server === "redis")).toMatchObject({ tasksPerSec: positive, walMaxBytes: null, walFinalBytes: null });
  expect(rows.find((r) => r.kind === "latency" && r.server === "redis")?.cycleP99Ms).toBeGreaterThan(0);
  expect(rows.filter((r) => r.kind === "ratio").map((r) => r.preset)).toEqual(["1x1", "push", "backlog"]);
  expect(err).toContain("| ratio");
}, 60_000);

test("bad flags are refused with exit code 2", async () => {
  const proc = Bun.spawn([BUN, join(ROOT, "scripts", "bench.ts"), "--preset", "nope"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(await proc.exited).toBe(2);
  expect(await new Response(proc.stderr).text()).toContain("unknown preset 'nope'");
});
