// Every limit crossed over a live connection: connections, bulk size, arguments, blocked clients,
// unprocessed input, unread replies. Each gives a clear error or a logged disconnect, never a
// crash, and a client that does not read is throttled (backpressure) with bounded server memory.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Socket } from "bun";
import { type EzraProcess, removeDir, startEzra, startRedis } from "./helpers/servers.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";
import { RawConnection, resp, sendRaw } from "./helpers/raw-client.ts";

setDefaultTimeout(30_000);

const TASK_BYTES = 4000; // under the `small` server's --bulk-bytes-max
const TASKS = 100; // one history read returns all of them: ~400 KB of reply for ~70 bytes of request
// Unread output must outgrow the kernel's socket buffers (tens of MB on loopback) before the server feels it.
const HISTORY_READS = 200;
const HISTORY_READ = resp("XREADGROUP", "GROUP", "g", "c", "COUNT", String(TASKS), "STREAMS", "big", "0");

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

async function info(port: number, field: string): Promise<number> {
  const conn = await sendRaw(port, resp("INFO"));
  const text = await conn.until((t) => t.includes("\r\n\r\n") && new RegExp(`${field}:\\d+`).test(t), `INFO ${field}`);
  conn.end();
  return Number(new RegExp(`${field}:(\\d+)`).exec(text)![1]);
}

/** Queue `big` with TASKS tasks claimed by consumer c of group g, so HISTORY_READ has a big reply. */
async function claimBigTasks(port: number, taskBytes = TASK_BYTES): Promise<void> {
  const conn = await RawConnection.open(port);
  conn.write(Array.from({ length: TASKS }, () => resp("XADD", "big", "*", "p", "x".repeat(taskBytes))).join(""));
  // One task per read: each reply stays under the smallest --reply-bytes-max used here.
  conn.write(resp("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "big", ">").repeat(TASKS));
  await conn.until((t) => t.length > TASKS * taskBytes, "the claimed tasks");
  conn.end();
}

/** A client whose socket does not read: replies pile up in the kernel, then in the server. */
async function nonReadingClient(port: number): Promise<{ socket: Socket<undefined>; isClosed: () => boolean }> {
  let closed = false;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: { data() {}, close: () => void (closed = true), error: () => void (closed = true) },
  });
  socket.pause();
  return { socket, isClosed: () => closed };
}

async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await Bun.sleep(20);
  }
  throw new Error(`never happened: ${what}`);
}

let small: EzraProcess; // tight limits for bulk, args, blocked clients and input
let conns: EzraProcess; // --connections-max 4, set through the environment
let defaults: EzraProcess; // default limits: backpressure without loss
let tinyReply: EzraProcess; // --reply-bytes-max 256 KiB

beforeAll(async () => {
  [small, conns, defaults, tinyReply] = await Promise.all([
    startEzra({ args: ["--bulk-bytes-max", "4096", "--args-max", "16", "--blocked-clients-max", "2", "--input-bytes-max", "1048576"] }),
    startEzra({ env: { EZRA_CONNECTIONS_MAX: "4" } }),
    startEzra(),
    startEzra({ args: ["--reply-bytes-max", "262144"] }),
  ]);
});

afterAll(async () => {
  for (const server of [small, conns, defaults, tinyReply]) {
    expect(await server.stop()).toBe(0);
    removeDir(server.dataDir);
  }
});

describe("--connections-max", () => {
  test("one connection too many gets Redis's error and is closed; a freed slot is reused", async () => {
    const open = await Promise.all(Array.from({ length: 4 }, () => RawConnection.open(conns.port)));
    for (const c of open) await c.ping();
    const extra = await RawConnection.open(conns.port);
    await extra.waitClosed();
    expect(extra.text).toBe("-ERR max number of clients reached\r\n");
    for (const c of open) await c.ping(); // the others are untouched
    open.pop()!.end();
    await eventually("a freed slot", async () => {
      const again = await RawConnection.open(conns.port);
      const ok = await again.ping().then(() => true, () => false); // refused while the server has not seen the close yet
      again.end();
      return ok;
    });
    for (const c of open) c.end();
  });

  test.skipIf(!requireTool(TOOLS.redisServer, "the --maxclients comparison with Redis"))("redis-server answers the same with --maxclients", async () => {
    const redis = await startRedis(["--maxclients", "1"]);
    let first = await RawConnection.open(redis.port);
    // startRedis's own probe connection may still hold the one slot for a moment.
    await eventually("a slot on redis", async () => {
      if (await first.ping().then(() => true, () => false)) return true;
      first = await RawConnection.open(redis.port);
      return false;
    });
    const extra = await RawConnection.open(redis.port);
    await extra.waitClosed();
    expect(extra.text).toBe("-ERR max number of clients reached\r\n");
    first.end();
    await redis.stop();
  });
});

describe("--bulk-bytes-max and --args-max", () => {
  test("a payload at the limit is stored; one byte more is a protocol error that closes", async () => {
    const ok = await sendRaw(small.port, resp("XADD", "bulk", "1-1", "p", "x".repeat(4096)));
    expect(await ok.readBytes(9)).toBe("$3\r\n1-1\r\n");
    ok.end();
    const over = await sendRaw(small.port, resp("XADD", "bulk", "1-2", "p", "x".repeat(4097)));
    await over.waitClosed();
    expect(over.text).toBe("-ERR Protocol error: invalid bulk length\r\n");
    expect(await info(small.port, "connected_clients")).toBeGreaterThan(0); // the server is fine
  });

  test("a command at the argument limit runs; one argument more is a protocol error that closes", async () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`);
    const ok = await sendRaw(small.port, resp("XADD", "args", "1-1", ...fields(13))); // 16 arguments
    const arityError = "-ERR wrong number of arguments for 'xadd' command\r\n"; // odd field count: parsed, then refused
    expect(await ok.readBytes(arityError.length)).toBe(arityError);
    await ok.ping(); // an argument error never closes
    ok.end();
    const over = await sendRaw(small.port, resp("XADD", "args", "1-1", ...fields(14))); // 17
    await over.waitClosed();
    expect(over.text).toBe("-ERR Protocol error: invalid multibulk length\r\n");
  });
});

describe("--blocked-clients-max", () => {
  test("a third blocked reader is refused with an error naming the flag, and stays connected", async () => {
    const block = resp("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "blockq", ">");
    const blocked = [await sendRaw(small.port, block), await sendRaw(small.port, block)];
    await eventually("two blocked clients", async () => (await info(small.port, "blocked_clients")) === 2);
    const third = await sendRaw(small.port, block);
    const refusal = "-ERR max number of blocked clients reached (2); raise --blocked-clients-max\r\n";
    expect(await third.readBytes(refusal.length)).toBe(refusal);
    await third.ping();
    // Serving one reader frees a slot.
    const producer = await sendRaw(small.port, resp("XADD", "blockq", "*", "n", "1"));
    await producer.readBytes(10);
    await eventually("one blocked client left", async () => (await info(small.port, "blocked_clients")) === 1);
    third.text = "";
    third.write(resp("XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "blockq", ">"));
    expect(await third.readBytes(5)).toBe("*-1\r\n"); // blocked, then timed out: no refusal
    // A blocked client that hangs up gives its slot back too.
    for (const c of blocked) c.end();
    await eventually("no blocked clients", async () => (await info(small.port, "blocked_clients")) === 0);
    for (const c of [third, producer]) c.end();
  });
});

describe("a client that pipelines without reading", () => {
  test("is back-pressured: its commands wait, server memory stays flat, and every reply arrives once it reads", async () => {
    await claimBigTasks(defaults.port);
    const rssBefore = rssBytes(defaults.proc.pid);
    const reads = HISTORY_READS; // ~80 MB of replies for ~14 KB of requests
    const client = await nonReadingClient(defaults.port);
    client.socket.write(HISTORY_READ.repeat(reads));
    const witness = await RawConnection.open(defaults.port);
    await witness.ping(); // the server goes on serving others meanwhile
    await Bun.sleep(200); // let the server run into the backpressure
    const rssPaused = rssBytes(defaults.proc.pid);
    console.log(`limits.test: server RSS ${(rssBefore / 2 ** 20).toFixed(1)} MiB before, ${(rssPaused / 2 ** 20).toFixed(1)} MiB with ${reads} unread ~400 KB replies`);
    expect(rssPaused - rssBefore).toBeLessThan(32 * 2 ** 20);
    expect(client.isClosed()).toBe(false);
    // Now read: all replies arrive, complete.
    let received = 0;
    const done = new Promise<void>((resolve) => {
      client.socket.reload({
        socket: {
          data(_s, chunk) {
            received += chunk.length;
            if (received >= expected) resolve();
          },
        },
      });
    });
    const one = await sendRaw(defaults.port, HISTORY_READ);
    const oneReply = await one.until((t) => t.endsWith("$1\r\n3\r\n") && t.length > TASKS * TASK_BYTES, "one history reply");
    const expected = oneReply.length * reads;
    client.socket.resume();
    await done;
    expect(received).toBe(expected);
    for (const c of [one, witness]) c.end();
    client.socket.end();
  });

  test("is disconnected once its unprocessed input passes --input-bytes-max, with a log line", async () => {
    await claimBigTasks(small.port);
    const client = await nonReadingClient(small.port);
    client.socket.write(HISTORY_READ.repeat(HISTORY_READS)); // replies back up: the server stops running its commands
    const pings = new Uint8Array(Buffer.from(resp("PING").repeat(100_000))); // 1.4 MB of input
    let sent = 0;
    await eventually("the disconnect", () => {
      if (sent < pings.length) sent += Math.max(0, client.socket.write(pings.subarray(sent)));
      return small.output().includes("over 1048576 bytes of unprocessed input (--input-bytes-max)");
    });
    client.socket.resume(); // the client sees the close once it reads what the kernel still holds
    await eventually("the client to see the close", () => client.isClosed());
    const witness = await RawConnection.open(small.port);
    await witness.ping();
    witness.end();
  });

  test("is disconnected once unread replies pass --reply-bytes-max, with a log line; nothing else is disturbed", async () => {
    // 10 MB per reply: one that does not fit the kernel's buffers leaves more than 256 KiB unsent.
    await claimBigTasks(tinyReply.port, 100_000);
    const rssBefore = rssBytes(tinyReply.proc.pid);
    const client = await nonReadingClient(tinyReply.port);
    client.socket.write(HISTORY_READ.repeat(20));
    await eventually("the disconnect", () => tinyReply.output().includes("reply bytes unread (--reply-bytes-max)"));
    expect(rssBytes(tinyReply.proc.pid) - rssBefore).toBeLessThan(64 * 2 ** 20);
    client.socket.resume();
    await eventually("the client to see the close", () => client.isClosed());
    const witness = await sendRaw(tinyReply.port, resp("XLEN", "big"));
    expect(await witness.readBytes(4)).toBe(":0\r\n"); // all 100 tasks still in flight, none lost
    witness.end();
    client.socket.end();
  });
});
