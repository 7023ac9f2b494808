// Tests of the harness itself: the RESP client keeps every reply type apart, and the runner
// reports each way a case can be wrong instead of passing it.
import { describe, expect, test } from "bun:test";
import { encodeCommand } from "../../src/resp/encoder.ts";
import { parseReply, render } from "../helpers/resp-client.ts";
import { checkCase, needRedis, useServers } from "./harness.ts";
import { autoIds, ezraAttemptFields } from "./normalisers.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

// Wire bytes -> render(): one case per RESP2/RESP3 type, so two types never render alike.
const WIRE: [string, string][] = [
  ["+OK\r\n", "+OK"],
  ["-ERR bad\r\n", "-ERR bad"],
  [":-12\r\n", ":-12"],
  ["$3\r\nOK!\r\n", '"OK!"'],
  ["$0\r\n\r\n", '""'],
  ["$4\r\na\r\nb\r\n", '"a\\r\\nb"'],
  ["$-1\r\n", "$-1"],
  ["*-1\r\n", "*-1"],
  ["_\r\n", "_"],
  ["*2\r\n+a\r\n$1\r\nb\r\n", '[+a, "b"]'],
  ["%1\r\n$1\r\nk\r\n:1\r\n", '{"k": :1}'],
  ["~1\r\n:1\r\n", "~[:1]"],
  [">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n", '>["message", "x"]'],
  [",1.5\r\n", ",1.5"],
  ["(12345678901234567890\r\n", "(12345678901234567890"],
  ["#t\r\n", "#t"],
  ["=7\r\ntxt:a\nb\r\n", '=txt:"a\\nb"'],
  ["!5\r\nERR x\r\n", '!"ERR x"'],
  ["|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", '|{+ttl: :3} "v"'],
  ["$2\r\n\xff\x01\r\n", '"\\\\xff\\\\x01"'],
];

describe("resp-client parser", () => {
  for (const [wire, shown] of WIRE) {
    test(`parses ${JSON.stringify(wire)} whole, and no prefix of it`, () => {
      const buf = Uint8Array.from([...wire].map((c) => c.charCodeAt(0)));
      const { reply, next } = parseReply(buf, 0);
      expect(render(reply)).toBe(shown);
      expect(next).toBe(buf.length);
      for (let cut = 1; cut < buf.length; cut++) expect(() => parseReply(buf.subarray(0, cut), 0)).toThrow();
    });
  }
  test("a request from encodeCommand reads back as an array of bulks", () => {
    expect(render(parseReply(encodeCommand(["XADD", "q", "*", "f", "v"]), 0).reply)).toBe('["XADD", "q", "*", "f", "v"]');
    expect(render(parseReply(bytes("*0\r\n"), 0).reply)).toBe("[]");
  });
});

const haveRedis = needRedis("the differential runner's self-tests");

describe.skipIf(!haveRedis)("differential runner reports what is wrong", () => {
  const ports = useServers(); // a skipped describe runs no hooks
  test("a plain difference", async () => {
    const problems = await checkCase(ports(), { name: "t", script: [["SELECT", "1"]] }, 2);
    expect(problems.join("\n")).toContain("replies differ");
  });
  test("an expected difference that is not there", async () => {
    const problems = await checkCase(ports(), { name: "t", script: [["PING"]], expectDifferent: "none", ezra: ["+PONG"] }, 3);
    expect(problems.join("\n")).toContain("both answered the same");
  });
  test("a recorded ezra reply that changed", async () => {
    const problems = await checkCase(ports(), { name: "t", script: [["SELECT", "1"]], expectDifferent: "one db", ezra: ["+OK"] }, 2);
    expect(problems.join("\n")).toContain("ezra's replies changed");
  });
  test("an ezra-side normaliser without a reason, and one that changes nothing", async () => {
    expect(await checkCase(ports(), { name: "t", script: [["PING"]], normalise: [ezraAttemptFields] }, 2)).toEqual([
      "uses ezraAttemptFields without saying 'because'",
    ]);
    const stale = await checkCase(ports(), { name: "t", script: [["PING"]], normalise: [ezraAttemptFields], because: "x" }, 2);
    expect(stale.join("\n")).toContain("changed nothing");
  });
  test("keys are per case and {@N} reuses a reply", async () => {
    const script = [["XADD", "{q}", "*", "a", "1"], ["XDEL", "{q}", "{@0}"], ["XLEN", "{q}"]];
    expect(await checkCase(ports(), { name: "t", script, normalise: [autoIds] }, 2)).toEqual([]);
  });
});
