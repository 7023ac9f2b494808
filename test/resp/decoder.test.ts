// RequestDecoder: every case is fed whole, byte by byte, and in seeded random splits.
// Invariant checked throughout: all three feedings give the same commands and the same error.

import { describe, expect, test } from "bun:test";
import { type DecoderLimits, ProtocolError, RequestDecoder } from "../../src/resp/decoder.ts";
import { mulberry32, randomSplit } from "./prng.ts";

const LIMITS: DecoderLimits = { bulkBytesMax: 4 * 1024 * 1024, argsMax: 1024, inlineBytesMax: 1024 };
const SEED = 0x5eed;
const RANDOM_SPLITS = 8;

const bin = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));
const str = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
const mb = (...args: string[]): string =>
  `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("");

interface Outcome {
  commands: string[][];
  error: string | null;
}

// One decoder, drained after every push. With `reuse`, each chunk goes through one scratch
// buffer that is scribbled over right after push(), as a socket may recycle its read buffer.
function run(chunks: Uint8Array[], limits: DecoderLimits, reuse: boolean): Outcome {
  const decoder = new RequestDecoder(limits);
  const got: Uint8Array[][] = [];
  const scratch = new Uint8Array(Math.max(1, ...chunks.map((c) => c.length)));
  let error: string | null = null;
  try {
    for (const chunk of chunks) {
      if (reuse) {
        const s = scratch.subarray(0, chunk.length);
        s.set(chunk);
        decoder.push(s);
        s.fill(0x3f);
      } else {
        decoder.push(chunk);
      }
      for (let c = decoder.next(); c !== null; c = decoder.next()) got.push(c);
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    error = e.message;
  }
  // Read the args only now, after every push: the views must have survived them.
  return { commands: got.map((c) => c.map(str)), error };
}

function feedings(bytes: Uint8Array): [string, Uint8Array[], boolean][] {
  const rand = mulberry32(SEED);
  const out: [string, Uint8Array[], boolean][] = [
    ["whole", [bytes], false],
    ["bytewise", Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)), true],
  ];
  for (let i = 0; i < RANDOM_SPLITS; i++) out.push([`random#${i}`, randomSplit(bytes, rand), i % 2 === 1]);
  return out;
}

function expectDecodes(input: string, commands: string[][], error: string | null = null, limits = LIMITS): void {
  for (const [feeding, chunks, reuse] of feedings(bin(input))) {
    expect({ feeding, ...run(chunks, limits, reuse) }).toEqual({ feeding, commands, error });
  }
}

const protocolError = (text: string) => `Protocol error: ${text}`;

describe("multibulk requests", () => {
  test("simple commands", () => {
    expectDecodes(mb("PING"), [["PING"]]);
    expectDecodes(mb("SET", "key", "value"), [["SET", "key", "value"]]);
  });

  test("binary-safe bulks keep CR, LF and NUL", () => {
    const payload = "a\r\nb\0\r\n\r\n\0\xff";
    expectDecodes(mb("ECHO", payload, "\r\n"), [["ECHO", payload, "\r\n"]]);
  });

  test("empty bulk", () => {
    expectDecodes(mb("SET", "k", ""), [["SET", "k", ""]]);
    expectDecodes("*1\r\n$0\r\n\r\n", [[""]]);
  });

  test("many commands pipelined in one chunk", () => {
    const commands = Array.from({ length: 200 }, (_, i) => ["XADD", `s${i}`, "*", "f", "v".repeat(i)]);
    expectDecodes(commands.map((c) => mb(...c)).join(""), commands);
  });

  test("*0, *-1 and other negative counts carry no command (redis skips them)", () => {
    expectDecodes("*0\r\n*-1\r\n*-10\r\n" + mb("PING"), [["PING"]]);
  });

  test("inline and multibulk mixed in one stream", () => {
    expectDecodes("PING\r\n" + mb("ECHO", "hi") + "set a b\n", [["PING"], ["ECHO", "hi"], ["set", "a", "b"]]);
  });
});

describe("inline requests", () => {
  test("split on spaces and tabs, ended by \\r\\n or \\n alone", () => {
    expectDecodes("PING\r\n", [["PING"]]);
    expectDecodes("set foo bar\n", [["set", "foo", "bar"]]);
    expectDecodes("  set\tfoo \t bar  \r\n", [["set", "foo", "bar"]]);
    expectDecodes("echo a\rb\n", [["echo", "a", "b"]]); // a lone CR separates, as in redis
    expectDecodes("\x0becho x\r\n", [["echo", "x"]]); // leading \v is whitespace
  });

  test("quotes and escapes", () => {
    expectDecodes(`set "a b" 'c d'\r\n`, [["set", "a b", "c d"]]);
    expectDecodes(String.raw`echo "\x41\x7a\n\r\t\b\a\\\"\q" x` + "\r\n", [["echo", "Az\n\r\t\b\x07\\\"q", "x"]]);
    expectDecodes(String.raw`echo 'it\'s' '\n'` + "\n", [["echo", "it's", "\\n"]]);
    expectDecodes(String.raw`echo "\x4" "\xZZ"` + "\n", [["echo", "x4", "xZZ"]]); // not a hex escape
    expectDecodes(`echo foo"bar baz"\n`, [["echo", "foobar baz"]]); // a quote may open mid-argument
    expectDecodes(`echo "" ''\r\n`, [["echo", "", ""]]);
  });

  test("empty lines produce no command", () => {
    expectDecodes("\r\n\n\r\n   \r\nPING\r\n\n", [["PING"]]);
  });
});

describe("malformed requests (redis texts)", () => {
  const cases: [string, string, string][] = [
    ["out-of-range multibulk length", "*20000000\r\n", "invalid multibulk length"],
    ["multibulk length beyond 32 bits", "*3000000000\r\n", "invalid multibulk length"],
    ["non-number multibulk length", "*blabla\r\n", "invalid multibulk length"],
    ["multibulk length with +", "*+1\r\n", "invalid multibulk length"],
    ["multibulk length with a space", "* 1\r\n", "invalid multibulk length"],
    ["multibulk length with a leading zero", "*01\r\n", "invalid multibulk length"],
    ["empty multibulk length", "*\r\n", "invalid multibulk length"],
    ["multibulk length -0", "*-0\r\n", "invalid multibulk length"],
    ["overflowing multibulk length", "*99999999999999999999999\r\n", "invalid multibulk length"],
    ["multibulk header ended by LF alone", "*1\n", "invalid multibulk length"],
    ["wrong payload header", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "expected '$', got 'f'"],
    ["negative bulk length", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", "invalid bulk length"],
    ["out-of-range bulk length", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", "invalid bulk length"],
    ["non-number bulk length", "*1\r\n$blabla\r\n", "invalid bulk length"],
    ["bulk length with +", "*1\r\n$+4\r\nPING\r\n", "invalid bulk length"],
    ["bulk length with a leading zero", "*1\r\n$04\r\nPING\r\n", "invalid bulk length"],
    ["bulk length with a space", "*1\r\n$ 4\r\nPING\r\n", "invalid bulk length"],
    ["empty bulk length", "*1\r\n$\r\n", "invalid bulk length"],
    ["bulk length -0", "*1\r\n$-0\r\n", "invalid bulk length"],
    ["overflowing bulk length", "*1\r\n$99999999999999999999999\r\n", "invalid bulk length"],
    ["bulk without trailing CRLF", "*1\r\n$4\r\nPINGXY", "expected '\\r\\n' after bulk"],
    ["bulk followed by CR and garbage", "*1\r\n$4\r\nPING\rX", "expected '\\r\\n' after bulk"],
    ["unbalanced: closing quote followed by text", `set """test-key""" test-value\r\n`, "unbalanced quotes in request"],
    ["unbalanced: open double quote", `"foo\r\n`, "unbalanced quotes in request"],
    ["unbalanced: open single quote", `'foo\n`, "unbalanced quotes in request"],
    ["unbalanced: \"a\"b", `echo "a"b\r\n`, "unbalanced quotes in request"],
    ["unbalanced: 'a'b", `echo 'a'b\n`, "unbalanced quotes in request"],
    ["unbalanced: escaped closing quote", `echo "foo\\"\r\n`, "unbalanced quotes in request"],
    ["too big inline request", "a".repeat(2000), "too big inline request"],
    ["too long inline line, even with its newline", "a".repeat(1025) + "\n", "too big inline request"],
    ["too big mbulk count string", "*" + "1".repeat(70 * 1024), "too big mbulk count string"],
    ["too big bulk count string", "*1\r\n$" + "1".repeat(70 * 1024), "too big bulk count string"],
  ];
  for (const [name, input, text] of cases) {
    test(name, () => expectDecodes(input, [], protocolError(text)));
  }

  test("commands before the bad frame are still returned", () => {
    expectDecodes("PING\r\n" + mb("ECHO", "x") + "*x\r\n" + mb("PING"), [["PING"], ["ECHO", "x"]],
      protocolError("invalid multibulk length"));
  });

  test("the error sticks: later calls throw it again", () => {
    const d = new RequestDecoder(LIMITS);
    d.push(bin("*x\r\n"));
    expect(() => d.next()).toThrow("Protocol error: invalid multibulk length");
    d.push(bin(mb("PING")));
    expect(() => d.next()).toThrow(ProtocolError);
  });
});

describe("limits are enforced at the header, before the payload", () => {
  test("argsMax", () => {
    const ok = new RequestDecoder(LIMITS);
    ok.push(bin(`*${LIMITS.argsMax}\r\n`));
    expect(ok.next()).toBeNull();
    const over = new RequestDecoder(LIMITS);
    over.push(bin(`*${LIMITS.argsMax + 1}\r\n`));
    expect(() => over.next()).toThrow("Protocol error: invalid multibulk length");
  });

  test("bulkBytesMax", () => {
    const ok = new RequestDecoder(LIMITS);
    ok.push(bin(`*1\r\n$${LIMITS.bulkBytesMax}\r\n`));
    expect(ok.next()).toBeNull();
    const over = new RequestDecoder(LIMITS);
    over.push(bin(`*1\r\n$${LIMITS.bulkBytesMax + 1}\r\n`));
    expect(() => over.next()).toThrow("Protocol error: invalid bulk length");
  });

  test("inlineBytesMax counts bytes still without a newline", () => {
    const d = new RequestDecoder(LIMITS);
    d.push(bin("a".repeat(LIMITS.inlineBytesMax)));
    expect(d.next()).toBeNull();
    d.push(bin("a"));
    expect(() => d.next()).toThrow("Protocol error: too big inline request");
    expectDecodes("a".repeat(LIMITS.inlineBytesMax) + "\n", [["a".repeat(LIMITS.inlineBytesMax)]]);
  });
});

describe("streaming", () => {
  const bigFrame = (size: number) => {
    const rand = mulberry32(SEED);
    const payload = Uint8Array.from({ length: size }, () => Math.floor(rand() * 256));
    const head = bin(`*2\r\n$3\r\nSET\r\n$${size}\r\n`);
    const frame = new Uint8Array(head.length + size + 2);
    frame.set(head);
    frame.set(payload, head.length);
    frame.set(bin("\r\n"), head.length + size);
    return { payload, frame };
  };

  // A decoder that re-scanned or re-copied the bulk per chunk would be quadratic: minutes, not ms.
  for (const chunkSize of [64, 1]) {
    test(`a 1 MiB bulk in ${chunkSize}-byte chunks`, () => {
      const { payload, frame } = bigFrame(1024 * 1024);
      const d = new RequestDecoder(LIMITS);
      const commands: Uint8Array[][] = [];
      for (let i = 0; i < frame.length; i += chunkSize) {
        d.push(frame.subarray(i, i + chunkSize));
        for (let c = d.next(); c !== null; c = d.next()) commands.push(c);
      }
      expect(commands.length).toBe(1);
      expect(str(commands[0][0])).toBe("SET");
      expect(Buffer.compare(commands[0][1], payload)).toBe(0);
      expect(d.bufferedBytes).toBe(0);
    });
  }

  test("returned views stay intact after later pushes", () => {
    const d = new RequestDecoder(LIMITS);
    const scratch = new Uint8Array(64 * 1024);
    const send = (s: string) => {
      const b = bin(s);
      scratch.set(b);
      d.push(scratch.subarray(0, b.length));
      scratch.fill(0);
    };
    send(mb("SET", "first", "value") + "*2\r\n$3\r\nGET\r\n$1");
    const first = d.next()!;
    expect(d.next()).toBeNull();
    for (let i = 0; i < 50; i++) send("0\r\nkey-number\r\n" + mb("PAD", "x".repeat(4000)) + "*2\r\n$3\r\nGET\r\n$1");
    while (d.next() !== null);
    send("\r\nk\r\n");
    expect(d.next()!.map(str)).toEqual(["GET", "k"]);
    expect(d.next()).toBeNull(); // fully drained: the next bytes must not land on old views
    const kept: Uint8Array[][] = [];
    for (let i = 0; i < 50; i++) {
      send(mb("SET", `k${i}`, "v".repeat(i)));
      kept.push(d.next()!);
      expect(d.next()).toBeNull();
    }
    expect(first.map(str)).toEqual(["SET", "first", "value"]);
    expect(kept.map((c) => c.map(str))).toEqual(kept.map((_, i) => ["SET", `k${i}`, "v".repeat(i)]));
  });

  test("bufferedBytes counts bytes not yet returned in a command", () => {
    const d = new RequestDecoder(LIMITS);
    expect(d.bufferedBytes).toBe(0);
    const partial = "*2\r\n$3\r\nGET\r\n$3\r\nke";
    d.push(bin(partial));
    expect(d.bufferedBytes).toBe(partial.length);
    expect(d.next()).toBeNull();
    expect(d.bufferedBytes).toBe("GET".length + "ke".length); // parsed arg + pending payload
    d.push(bin("y\r\nPI"));
    expect(d.next()!.map(str)).toEqual(["GET", "key"]);
    expect(d.bufferedBytes).toBe(2);
    d.push(bin("NG\n"));
    expect(d.next()!.map(str)).toEqual(["PING"]);
    expect(d.next()).toBeNull();
    expect(d.bufferedBytes).toBe(0);
  });
});
