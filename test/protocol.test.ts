// Malformed requests over a live connection, case by case from Redis's tests/unit/protocol.tcl:
// the exact error reply, the connection closed after a protocol error, other clients unaffected.
// Cases marked `redis` are also sent to a real redis-server, which must answer the same bytes.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { RawConnection, resp, sendRaw } from "./helpers/raw-client.ts";
import { type EzraProcess, type RedisProcess, removeDir, startEzra, startRedis } from "./helpers/servers.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";

setDefaultTimeout(30_000);

const PING = resp("PING");
const PONG = "+PONG\r\n";
const protocolError = (what: string) => `-ERR Protocol error: ${what}\r\n`;

interface Case {
  name: string;
  send: string;
  /** The whole reply text expected. */
  reply: string;
  /** true: the server closes the connection after the reply; false: it stays usable. */
  closes: boolean;
  /** Also send it to redis-server, which must reply the same. */
  redis?: boolean;
}

const CASES: Case[] = [
  { name: "empty query", send: `\r\n${PING}`, reply: PONG, closes: false, redis: true },
  { name: "empty inline lines", send: `\n\r\n  \r\n${PING}`, reply: PONG, closes: false, redis: true },
  { name: "negative multibulk length", send: `*-10\r\n${PING}`, reply: PONG, closes: false, redis: true },
  { name: "zero-length multibulk", send: "*0\r\nPING\r\n", reply: PONG, closes: false, redis: true },
  { name: "out of range multibulk length", send: "*3000000000\r\n", reply: protocolError("invalid multibulk length"), closes: true, redis: true },
  { name: "multibulk length over --args-max", send: "*20000000\r\n", reply: protocolError("invalid multibulk length"), closes: true },
  { name: "wrong multibulk payload header", send: "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", reply: protocolError("expected '$', got 'f'"), closes: true, redis: true },
  { name: "negative multibulk payload length", send: "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", reply: protocolError("invalid bulk length"), closes: true, redis: true },
  { name: "out of range multibulk payload length", send: "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", reply: protocolError("invalid bulk length"), closes: true, redis: true },
  { name: "non-number multibulk payload length", send: "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", reply: protocolError("invalid bulk length"), closes: true, redis: true },
  { name: "multi bulk request not followed by bulk arguments", send: "*1\r\nfoo\r\n", reply: protocolError("expected '$', got 'f'"), closes: true, redis: true },
  { name: "nested array in a request", send: `*1\r\n${PING}`, reply: protocolError("expected '$', got '*'"), closes: true, redis: true },
  { name: "multibulk length with a plus sign", send: `*+1\r\n$4\r\nPING\r\n`, reply: protocolError("invalid multibulk length"), closes: true, redis: true },
  { name: "multibulk length with a leading zero", send: `*01\r\n$4\r\nPING\r\n`, reply: protocolError("invalid multibulk length"), closes: true, redis: true },
  { name: "bulk length with a leading zero", send: `*1\r\n$04\r\nPING\r\n`, reply: protocolError("invalid bulk length"), closes: true, redis: true },
  { name: "generic wrong number of args", send: resp("PING", "x", "y", "z") + PING, reply: `-ERR wrong number of arguments for 'ping' command\r\n${PONG}`, closes: false, redis: true },
  { name: "unknown command keeps the connection", send: resp("NOSUCH", "a") + PING, reply: `-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n${PONG}`, closes: false, redis: true },
  { name: "unbalanced single quotes", send: "ECHO foo 'b'a'r\r\nping\r\n", reply: protocolError("unbalanced quotes in request"), closes: true, redis: true },
  { name: "unbalanced double quotes", send: "ECHO foo \"b\"a\"r\r\nping\r\n", reply: protocolError("unbalanced quotes in request"), closes: true, redis: true },
  { name: "unterminated quote", send: "ECHO \"abc\r\n", reply: protocolError("unbalanced quotes in request"), closes: true, redis: true },
  { name: "inline quoting and escapes", send: "ECHO \"a b\\x41\\n\"\r\nECHO 'it\\'s'\r\nECHO a\"b c\"\r\n", reply: "$5\r\na bA\n\r\n$4\r\nit's\r\n$4\r\nab c\r\n", closes: false, redis: true },
  { name: "inline command ended by a bare LF", send: "PING\nPING\r\n", reply: PONG + PONG, closes: false, redis: true },
  // RESP3 types are replies only; a request starting with one is an inline command, as in Redis.
  { name: "RESP3 attribute sent as a request", send: `|1\r\n${PING}`, reply: `-ERR unknown command '|1', with args beginning with: \r\n${PONG}`, closes: false, redis: true },
  { name: "RESP3 map sent as a request", send: `%1\r\n${PING}`, reply: `-ERR unknown command '%1', with args beginning with: \r\n${PONG}`, closes: false, redis: true },
  // CRLF strictness (valkey's "Check CRLF when parsing the querybuf"): a header must end in \r\n.
  { name: "multibulk header ending in x\\n", send: "*3x\n$3\r\nSET\r\n", reply: protocolError("invalid multibulk length"), closes: true, redis: true },
  { name: "multibulk header ending in \\rx", send: "*3\rx$3\r\nSET\r\n", reply: protocolError("invalid multibulk length"), closes: true },
  { name: "multibulk header ending in xx", send: "*3xx$3\r\nSET\r\n", reply: protocolError("invalid multibulk length"), closes: true, redis: true },
  { name: "bulk header ending in x\\n", send: "*1\r\n$4x\nPING\r\n", reply: protocolError("invalid bulk length"), closes: true, redis: true },
  { name: "bulk header ending in \\rx", send: "*1\r\n$4\rxPING\r\n", reply: protocolError("invalid bulk length"), closes: true },
  { name: "bulk payload followed by \\rx", send: "*2\r\n$4\r\nECHO\rx$1\r\na\r\n", reply: protocolError("expected '\\r\\n' after bulk"), closes: true },
  { name: "bulk payload followed by x\\n", send: "*2\r\n$4\r\nECHOx\n$1\r\na\r\n", reply: protocolError("expected '\\r\\n' after bulk"), closes: true },
  { name: "bulk payload longer than announced", send: "*2\r\n$4\r\nECHOxx$1\r\na\r\n", reply: protocolError("expected '\\r\\n' after bulk"), closes: true },
  { name: "replies before a protocol error are delivered", send: `${PING}PING\r\n*1\r\nfoo\r\n`, reply: PONG + PONG + protocolError("expected '$', got 'f'"), closes: true, redis: true },
];

const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString("latin1");

const haveRedis = requireTool(TOOLS.redisServer, "the byte-for-byte comparison with Redis");

let ezra: EzraProcess;
let witness: RawConnection; // a well-behaved client that stays connected through every case

beforeAll(async () => {
  ezra = await startEzra();
  witness = await RawConnection.open(ezra.port);
  await witness.ping();
});

afterAll(async () => {
  witness?.end();
  expect(await ezra.stop()).toBe(0);
  removeDir(ezra.dataDir);
});

// Sends the case and returns the reply and whether the connection ended up closed.
async function exchange(port: number, c: Case, chunks: number): Promise<{ reply: string; closed: boolean }> {
  const conn = await sendRaw(port, c.send, chunks);
  if (c.closes) {
    await conn.waitClosed();
  } else {
    await conn.readBytes(c.reply.length);
    await conn.ping(); // still open and in sync
    conn.text = conn.text.slice(0, -PONG.length);
  }
  const closed = conn.closed;
  conn.end();
  return { reply: conn.text, closed };
}

describe("malformed requests", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      for (const chunks of [1, 3]) {
        const got = await exchange(ezra.port, c, Math.min(chunks, c.send.length));
        expect(got).toEqual({ reply: c.reply, closed: c.closes });
      }
      await witness.ping();
    });
  }
});

const DESYNC: [string, string][] = [
  ["\x00", "too big inline request"],
  ["*\x00", "too big mbulk count string"],
  ["$\x00", "too big inline request"],
  ["*1\r\n$\x00", "too big bulk count string"],
];

/** Sends `seq` then 1 KiB chunks with no newline; the server must close with `message` past 64 KiB. */
async function expectCutOff(port: number, seq: string, message: string): Promise<void> {
  const conn = await RawConnection.open(port);
  conn.write(seq);
  let sent = 0;
  while (!conn.closed && sent < 1024 * 1024) {
    conn.write("A".repeat(1024));
    sent += 1024;
    if (sent % (16 * 1024) === 0) await Bun.sleep(1);
  }
  await conn.waitClosed();
  expect(conn.text).toBe(protocolError(message));
  expect(seq.length + sent).toBeGreaterThan(64 * 1024);
  expect(sent).toBeLessThan(1024 * 1024);
}

// Protocol desync regression: a frame that never ends a header line must be cut off at 64 KiB
// (redis PROTO_INLINE_MAX_SIZE), not buffered forever.
describe("protocol desync", () => {
  for (const [seq, message] of DESYNC) {
    test(`${JSON.stringify(seq)} followed by 1 KiB chunks without a newline`, async () => {
      await expectCutOff(ezra.port, seq, message);
      await witness.ping();
    });
  }
});

describe.skipIf(!haveRedis)("redis-server answers the same bytes", () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  for (const c of CASES.filter((c) => c.redis)) {
    test(c.name, async () => {
      expect((await exchange(redis.port, c, 1)).reply).toBe(c.reply);
    });
  }
  for (const [seq, message] of DESYNC) {
    test(`${JSON.stringify(seq)} followed by 1 KiB chunks without a newline`, async () => {
      await expectCutOff(redis.port, seq, message);
    });
  }
});

describe("well-formed edge cases", () => {
  test("raw protocol with a binary payload: every byte value round-trips", async () => {
    const pop = resp("XREADGROUP", "GROUP", "g", "c", "STREAMS", "bin", ">");
    const conn = await sendRaw(ezra.port, resp("ECHO", binary) + resp("XADD", "bin", "1-1", binary, binary) + pop, 5);
    const entry = `*2\r\n$3\r\n1-1\r\n*6\r\n$256\r\n${binary}\r\n$256\r\n${binary}\r\n$8\r\nattempts\r\n$1\r\n1\r\n$12\r\nmax_attempts\r\n$1\r\n3\r\n`;
    const expected = `$256\r\n${binary}\r\n$3\r\n1-1\r\n*1\r\n*2\r\n$3\r\nbin\r\n*1\r\n${entry}`;
    expect(await conn.readBytes(expected.length)).toBe(expected);
    conn.end();
  });

  test("raw null replies: *-1 in RESP2, _ in RESP3", async () => {
    const read = resp("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nulls", ">");
    const conn = await sendRaw(ezra.port, read + resp("HELLO", "3") + read);
    await conn.until((t) => t.endsWith("_\r\n"), "a RESP3 null");
    expect(conn.text.startsWith("*-1\r\n%7\r\n")).toBe(true);
    conn.end();
  });

  test("a command split at every byte is decoded once", async () => {
    const conn = await sendRaw(ezra.port, resp("ECHO", "split") + "ECHO inline\r\n", 40);
    expect(await conn.readBytes(22)).toBe("$5\r\nsplit\r\n$6\r\ninline\r\n");
    conn.end();
  });

  test("a large number of arguments (XADD with 10,000 fields)", async () => {
    const fields = Array.from({ length: 10_000 }, (_, i) => [`k${i}`, `v${i}`]).flat();
    const pop = resp("XREADGROUP", "GROUP", "g", "c", "STREAMS", "wide", ">");
    const conn = await sendRaw(ezra.port, resp("XADD", "wide", "5-1", ...fields) + pop);
    await conn.until((t) => t.endsWith("$12\r\nmax_attempts\r\n$1\r\n3\r\n"), "the wide entry");
    expect(conn.text.startsWith("$3\r\n5-1\r\n*1\r\n*2\r\n$4\r\nwide\r\n*1\r\n*2\r\n$3\r\n5-1\r\n*20004\r\n$2\r\nk0\r\n$2\r\nv0\r\n")).toBe(true);
    expect(conn.text).toContain("$5\r\nk9999\r\n$5\r\nv9999\r\n$8\r\nattempts\r\n$1\r\n1\r\n");
    conn.end();
  });

  test("two pipelined blocking reads on one connection are answered in order", async () => {
    const block = resp("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "pipeblock", ">");
    const blocked = await sendRaw(ezra.port, block + block);
    const producer = await sendRaw(ezra.port, resp("XADD", "pipeblock", "1-1", "n", "1"));
    await producer.readBytes(9);
    await blocked.until((t) => t.includes("1-1"), "the first task");
    producer.write(resp("XADD", "pipeblock", "1-2", "n", "2"));
    await blocked.until((t) => t.includes("1-2"), "the second task");
    expect(blocked.text.indexOf("1-1")).toBeLessThan(blocked.text.indexOf("1-2"));
    blocked.end();
    producer.end();
  });
});
