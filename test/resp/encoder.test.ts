// ReplyWriter and encodeCommand: exact bytes for every reply kind in RESP2 and RESP3.
// Invariant checked: the protocol switch changes reply shapes only, and take() always leaves an empty writer.

import { describe, expect, test } from "bun:test";
import { encodeCommand, ReplyWriter } from "../../src/resp/encoder.ts";

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
const utf8AsLatin1 = (s: string): string => Buffer.from(s, "utf8").toString("latin1");

function written(protocol: 2 | 3, write: (w: ReplyWriter) => void): string {
  const w = new ReplyWriter();
  w.protocol = protocol;
  write(w);
  const length = w.length;
  const out = w.take();
  expect(out.length).toBe(length);
  return latin1(out);
}

// [name, write, RESP2 bytes, RESP3 bytes]
const cases: [string, (w: ReplyWriter) => void, string, string][] = [
  ["simple", (w) => w.simple("OK"), "+OK\r\n", "+OK\r\n"],
  ["simple with CR/LF", (w) => w.simple("a\r\nb\nc"), "+a  b c\r\n", "+a  b c\r\n"],
  ["simple, UTF-8", (w) => w.simple("héllo wörld, this one is long enough"),
    "+" + utf8AsLatin1("héllo wörld, this one is long enough") + "\r\n",
    "+" + utf8AsLatin1("héllo wörld, this one is long enough") + "\r\n"],
  ["error", (w) => w.error("ERR unknown command"), "-ERR unknown command\r\n", "-ERR unknown command\r\n"],
  ["error with CR/LF", (w) => w.error("NOGROUP no\r\ngroup"), "-NOGROUP no  group\r\n", "-NOGROUP no  group\r\n"],
  ["integer 0", (w) => w.integer(0), ":0\r\n", ":0\r\n"],
  ["integer", (w) => w.integer(1234567890), ":1234567890\r\n", ":1234567890\r\n"],
  ["negative integer", (w) => w.integer(-42), ":-42\r\n", ":-42\r\n"],
  ["max safe integer", (w) => w.integer(Number.MAX_SAFE_INTEGER), ":9007199254740991\r\n", ":9007199254740991\r\n"],
  ["min safe integer", (w) => w.integer(Number.MIN_SAFE_INTEGER), ":-9007199254740991\r\n", ":-9007199254740991\r\n"],
  ["bigint", (w) => w.integer(-(2n ** 63n)), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"],
  ["bulk string", (w) => w.bulk("hello"), "$5\r\nhello\r\n", "$5\r\nhello\r\n"],
  ["bulk UTF-8 string", (w) => w.bulk("héllo"), "$6\r\n" + utf8AsLatin1("héllo") + "\r\n",
    "$6\r\n" + utf8AsLatin1("héllo") + "\r\n"],
  ["bulk lone surrogate", (w) => w.bulk("a\ud800"), "$4\r\na\xef\xbf\xbd\r\n", "$4\r\na\xef\xbf\xbd\r\n"],
  ["bulk bytes", (w) => w.bulk(Uint8Array.of(0, 13, 10, 255)), "$4\r\n\0\r\n\xff\r\n", "$4\r\n\0\r\n\xff\r\n"],
  ["empty bulk", (w) => w.bulk(""), "$0\r\n\r\n", "$0\r\n\r\n"],
  ["nil", (w) => w.nil(), "$-1\r\n", "_\r\n"],
  ["nil array", (w) => w.nilArray(), "*-1\r\n", "_\r\n"],
  ["array", (w) => { w.array(2); w.bulk("a"); w.integer(1); }, "*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n$1\r\na\r\n:1\r\n"],
  ["empty array", (w) => w.array(0), "*0\r\n", "*0\r\n"],
  ["map", (w) => { w.map(2); w.bulk("a"); w.integer(1); w.bulk("b"); w.nil(); },
    "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$-1\r\n", "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n"],
  ["set", (w) => { w.set(1); w.bulk("x"); }, "*1\r\n$1\r\nx\r\n", "~1\r\n$1\r\nx\r\n"],
  ["double", (w) => w.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"],
  ["integral double", (w) => w.double(3), "$1\r\n3\r\n", ",3\r\n"],
  ["negative double", (w) => w.double(-0.25), "$5\r\n-0.25\r\n", ",-0.25\r\n"],
  ["huge double", (w) => w.double(1e21), "$5\r\n1e+21\r\n", ",1e+21\r\n"],
  ["inf", (w) => w.double(Infinity), "$3\r\ninf\r\n", ",inf\r\n"],
  ["-inf", (w) => w.double(-Infinity), "$4\r\n-inf\r\n", ",-inf\r\n"],
  ["nan", (w) => w.double(NaN), "$3\r\nnan\r\n", ",nan\r\n"],
  ["true", (w) => w.bool(true), ":1\r\n", "#t\r\n"],
  ["false", (w) => w.bool(false), ":0\r\n", "#f\r\n"],
  ["verbatim", (w) => w.verbatim("Some string"), "$11\r\nSome string\r\n", "=15\r\ntxt:Some string\r\n"],
  ["verbatim markdown, UTF-8", (w) => w.verbatim("é", "mkd"), "$2\r\n\xc3\xa9\r\n", "=6\r\nmkd:\xc3\xa9\r\n"],
  ["push", (w) => { w.push(2); w.bulk("message"); w.bulk("x"); },
    "*2\r\n$7\r\nmessage\r\n$1\r\nx\r\n", ">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n"],
  ["raw", (w) => w.raw(Uint8Array.of(43, 79, 75, 13, 10)), "+OK\r\n", "+OK\r\n"],
];

describe("replies", () => {
  for (const [name, write, resp2, resp3] of cases) {
    test(name, () => {
      expect(written(2, write)).toBe(resp2);
      expect(written(3, write)).toBe(resp3);
    });
  }

  test("the protocol defaults to 2", () => {
    expect(new ReplyWriter().protocol).toBe(2);
  });

  test("programmer errors throw", () => {
    const w = new ReplyWriter();
    expect(() => w.integer(1.5)).toThrow();
    expect(() => w.integer(NaN)).toThrow();
    expect(() => w.array(-1)).toThrow();
    w.protocol = 3;
    expect(() => w.verbatim("x", "text")).toThrow();
    expect(w.length).toBe(0); // nothing half-written
  });
});

describe("buffer", () => {
  test("mark and truncate drop replies written since the mark", () => {
    const w = new ReplyWriter();
    w.simple("OK");
    const mark = w.mark();
    w.array(2);
    w.bulk("a");
    expect(w.length).toBeGreaterThan(mark);
    w.truncate(mark);
    expect(w.length).toBe(mark);
    w.integer(7);
    expect(latin1(w.take())).toBe("+OK\r\n:7\r\n");
    expect(() => w.truncate(1)).toThrow();
  });

  test("take returns the bytes and resets to empty", () => {
    const w = new ReplyWriter();
    w.simple("OK");
    const first = w.take();
    expect(w.length).toBe(0);
    expect(latin1(w.take())).toBe("");
    w.simple("PONG");
    expect(latin1(first)).toBe("+OK\r\n"); // taken bytes are not overwritten by later replies
    expect(latin1(w.take())).toBe("+PONG\r\n");
  });

  test("large bulks grow the buffer; take shrinks it back", () => {
    const w = new ReplyWriter();
    const big = new Uint8Array(5 * 1024 * 1024).fill(120);
    w.simple("OK");
    w.bulk(big);
    w.bulk("x".repeat(3 * 1024 * 1024));
    const out = w.take();
    const head = "+OK\r\n$5242880\r\n";
    expect(out.length).toBe(head.length + big.length + 2 + "$3145728\r\n".length + 3 * 1024 * 1024 + 2);
    expect(latin1(out.subarray(0, head.length))).toBe(head);
    expect(out[head.length + big.length - 1]).toBe(120);
    expect(latin1(out.subarray(out.length - 3))).toBe("x\r\n");
    w.simple("OK");
    expect(latin1(w.take())).toBe("+OK\r\n");
    expect(out[head.length]).toBe(120); // the handed-over buffer is the caller's now
  });

  test("many small replies", () => {
    const w = new ReplyWriter();
    let expected = "";
    for (let i = 0; i < 10_000; i++) {
      w.integer(i);
      expected += `:${i}\r\n`;
    }
    expect(latin1(w.take())).toBe(expected);
  });
});

describe("encodeCommand", () => {
  test("builds a multibulk request from strings and bytes", () => {
    expect(latin1(encodeCommand(["SET", "ké", Uint8Array.of(0, 13, 10)])))
      .toBe("*3\r\n$3\r\nSET\r\n$3\r\nk\xc3\xa9\r\n$3\r\n\0\r\n\r\n");
    expect(latin1(encodeCommand([]))).toBe("*0\r\n");
  });
});
