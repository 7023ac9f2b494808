// Differential cases for XPENDING, XCLAIM and XAUTOCLAIM: the same scripts on redis-server and
// on ezra. Idle times are clock readings (masked on both sides); ezra's intended differences
// (the heartbeat counts no delivery, FORCE counts one) are explicit cases at the end.
import { bulk, entry, err, int, OK } from "./expected.ts";
import { pendingTimes } from "./claims-normalisers.ts";
import { type Case, differentialSuite, type Protocol } from "./harness.ts";
import { ezraAttemptFields } from "./normalisers.ts";

const ATTEMPTS = "ezra appends attempts and max_attempts to each entry's fields (DESIGN.md)";
// The group exists before any entry, so both servers deliver every entry to it.
const group = (name = "g"): string[] => ["XGROUP", "CREATE", "{q}", name, "$", "MKSTREAM"];
const add = (...ids: string[]): string[][] => ids.map((id) => ["XADD", "{q}", id, "n", id]);
const read = (consumer: string, count: number, g = "g"): string[] => ["XREADGROUP", "GROUP", g, consumer, "COUNT", String(count), "STREAMS", "{q}", ">"];
const setup = (): string[][] => [group(), ...add("1-1", "2-1", "3-1", "4-1"), read("a", 2), read("b", 1)];

const xpending: Case[] = [
  { name: "XPENDING summary of an empty group", script: [group(), ["XPENDING", "{q}", "g"], ["XPENDING", "{q}", "g", "-", "+", "10"]] },
  { name: "XPENDING summary", script: [...setup(), ["XPENDING", "{q}", "g"], ["XACK", "{q}", "g", "1-1", "3-1"], ["XPENDING", "{q}", "g"]] },
  {
    name: "XPENDING extended: bounds, COUNT, consumer",
    normalise: [pendingTimes],
    script: [
      ...setup(), ["XPENDING", "{q}", "g", "-", "+", "10"], ["XPENDING", "{q}", "g", "(1-1", "+", "10"], ["XPENDING", "{q}", "g", "-", "(3-1", "10"],
      ["XPENDING", "{q}", "g", "2", "3", "10"], ["XPENDING", "{q}", "g", "-", "+", "1"], ["XPENDING", "{q}", "g", "-", "+", "0"],
      ["XPENDING", "{q}", "g", "-", "+", "-3"], ["XPENDING", "{q}", "g", "-", "+", "10", "b"], ["XPENDING", "{q}", "g", "-", "+", "10", "nobody"],
      ["XPENDING", "{q}", "g", "-", "+", "10", "a", "ignored"], ["XPENDING", "{q}", "g", "3", "1", "10"],
    ],
  },
  {
    name: "XPENDING IDLE",
    normalise: [pendingTimes],
    script: [
      ...setup(), ["XPENDING", "{q}", "g", "IDLE", "0", "-", "+", "10"], ["XPENDING", "{q}", "g", "IDLE", "0", "-", "+", "10", "a"],
      ["XPENDING", "{q}", "g", "IDLE", "86400000", "-", "+", "10"],
      ["XCLAIM", "{q}", "g", "a", "0", "2-1", "IDLE", "90000000", "JUSTID"], ["XPENDING", "{q}", "g", "IDLE", "86400000", "-", "+", "10"],
    ],
  },
  {
    name: "XPENDING errors",
    script: [
      ...setup(), ["XPENDING", "{q}", "nope"], ["XPENDING", "{q2}", "g"], ["XPENDING", "{q}", "g", "-", "+"], ["XPENDING", "{q}", "g", "-", "+", "x"],
      ["XPENDING", "{q}", "g", "IDLE", "5"], ["XPENDING", "{q}", "g", "IDLE", "5", "-", "+"], ["XPENDING", "{q}", "g", "IDLE", "x", "-", "+", "1"],
      ["XPENDING", "{q}", "g", "bad", "+", "1"], ["XPENDING", "{q}", "g", "-", "bad", "1"], ["XPENDING", "{q}", "g", "-", "(0-0", "1"],
      ["XPENDING", "{q}", "g", "-", "+", "1", "c", "d", "e"], ["XPENDING", "{q2}", "g", "-", "+", "x"], ["XPENDING", "{q}", "g", "IDLE", "1", "-", "+", "1", "c", "d"],
    ],
  },
];

const xclaim: Case[] = [
  {
    name: "XCLAIM another consumer takes over",
    normalise: [ezraAttemptFields, pendingTimes],
    because: ATTEMPTS,
    script: [
      ...setup(), ["XCLAIM", "{q}", "g", "c", "3600000", "1-1"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "3-1", "9-9"],
      ["XPENDING", "{q}", "g"], ["XPENDING", "{q}", "g", "-", "+", "10"],
    ],
  },
  {
    name: "XCLAIM JUSTID, RETRYCOUNT, LASTID",
    normalise: [pendingTimes],
    script: [
      ...setup(), ["XCLAIM", "{q}", "g", "c", "0", "1-1", "JUSTID"], ["XCLAIM", "{q}", "g", "d", "0", "2-1", "RETRYCOUNT", "7", "JUSTID"],
      ["XCLAIM", "{q}", "g", "d", "0", "3-1", "LASTID", "4-1", "JUSTID"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "1-1", "JUSTID"],
      ["XPENDING", "{q}", "g", "-", "+", "10"],
    ],
  },
  {
    name: "XCLAIM of entries no one holds",
    normalise: [pendingTimes],
    script: [group(), ...add("1-1", "2-1"), ["XCLAIM", "{q}", "g", "c", "0", "1-1", "JUSTID"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "FORCE", "JUSTID"], ["XPENDING", "{q}", "g", "-", "+", "10"]],
  },
  {
    name: "XCLAIM errors",
    script: [
      ...setup(), ["XCLAIM", "{q}", "nope", "c", "0", "1-1"], ["XCLAIM", "{q2}", "g", "c", "x", "1-1"], ["XCLAIM", "{q}", "g", "c", "x", "1-1"],
      ["XCLAIM", "{q}", "g", "c", "0", "abc"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "BOGUS"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "JUSTID", "2-1"],
      ["XCLAIM", "{q}", "g", "c", "0", "1-1", "IDLE"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "IDLE", "x"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "TIME", "x"],
      ["XCLAIM", "{q}", "g", "c", "0", "1-1", "RETRYCOUNT", "x"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "LASTID", "x"], ["XCLAIM", "{q}", "g", "c", "0", "1-1", "LASTID"],
      ["XCLAIM", "{q}", "g", "c", "0"], ["XPENDING", "{q}", "g"],
    ],
  },
  { name: "XCLAIM negative times", script: [...setup(), ["XCLAIM", "{q}", "g", "a", "-5", "1-1", "IDLE", "-5", "JUSTID"], ["XCLAIM", "{q}", "g", "a", "0", "1-1", "TIME", "-5", "JUSTID"]] },
];

const xautoclaim: Case[] = [
  {
    name: "XAUTOCLAIM cursor and COUNT",
    normalise: [ezraAttemptFields, pendingTimes],
    because: ATTEMPTS,
    script: [
      group(), ...add("1-1", "2-1", "3-1", "4-1", "5-1"), read("a", 5), ["XAUTOCLAIM", "{q}", "g", "w", "3600000", "0"],
      ["XAUTOCLAIM", "{q}", "g", "w", "0", "0", "COUNT", "2"], ["XAUTOCLAIM", "{q}", "g", "w", "0", "3-1", "COUNT", "2", "JUSTID"],
      ["XAUTOCLAIM", "{q}", "g", "w", "0", "(4-1", "JUSTID"], ["XAUTOCLAIM", "{q}", "g", "w2", "0", "-", "COUNT", "1", "JUSTID"],
      ["XPENDING", "{q}", "g", "-", "+", "10"],
    ],
  },
  {
    name: "XAUTOCLAIM scans COUNT x 10 entries",
    script: [
      group(), ...add(...Array.from({ length: 12 }, (_, i) => `${i + 1}-0`)), read("a", 12),
      ["XCLAIM", "{q}", "g", "a", "0", "12-0", "IDLE", "90000000", "JUSTID"],
      ["XAUTOCLAIM", "{q}", "g", "w", "86400000", "0", "COUNT", "1", "JUSTID"], ["XAUTOCLAIM", "{q}", "g", "w", "86400000", "11-0", "COUNT", "1", "JUSTID"],
    ],
  },
  {
    name: "XAUTOCLAIM errors",
    script: [
      ...setup(), ["XAUTOCLAIM", "{q}", "g", "w", "x", "0"], ["XAUTOCLAIM", "{q}", "g", "w", "0", "x"], ["XAUTOCLAIM", "{q}", "g", "w", "0", "0", "COUNT", "0"],
      ["XAUTOCLAIM", "{q}", "g", "w", "0", "0", "COUNT", "x"], ["XAUTOCLAIM", "{q}", "g", "w", "0", "0", "COUNT", "-1"], ["XAUTOCLAIM", "{q}", "g", "w", "0", "0", "COUNT"],
      ["XAUTOCLAIM", "{q}", "g", "w", "0", "0", "BOGUS"], ["XAUTOCLAIM", "{q}", "nope", "w", "0", "0"], ["XAUTOCLAIM", "{q2}", "g", "w", "0", "0"],
      ["XAUTOCLAIM", "{q2}", "g", "w", "x", "0"], ["XAUTOCLAIM", "{q}", "g", "w", "0", "-", "JUSTID", "JUSTID"],
    ],
  },
];

/** XPENDING's extended reply rows as ezra records them, idle masked. */
const rows = (...rs: [string, string, number][]) => `[${rs.map(([id, c, n]) => `[${bulk(id)}, ${bulk(c)}, :<ms>, ${int(n)}]`).join(", ")}]`;

const differences: Case[] = [
  {
    name: "XCLAIM by the holder counts no delivery",
    expectDifferent: "re-claiming your own task is a heartbeat that keeps the lease; it must not use up the task's attempts",
    normalise: [pendingTimes],
    script: [group(), ...add("1-1"), read("w", 1), ["XCLAIM", "{q}", "g", "w", "0", "1-1"], ["XAUTOCLAIM", "{q}", "g", "w", "0", "0", "JUSTID"], ["XAUTOCLAIM", "{q}", "g", "w", "0", "0"], ["XPENDING", "{q}", "g", "-", "+", "10"]],
    ezra: (p: Protocol) => [
      OK, bulk("1-1"), readReply(p, entry("1-1", ["n", "1-1"], 1)), `[${entry("1-1", ["n", "1-1"], 1)}]`, `[${bulk("0-0")}, [${bulk("1-1")}], []]`,
      `[${bulk("0-0")}, [${entry("1-1", ["n", "1-1"], 1)}], []]`, rows(["1-1", "w", 1]),
    ],
  },
  {
    name: "XCLAIM FORCE counts one delivery",
    expectDifferent: "a forced claim of a task nobody held is its first delivery; redis-server counts 2 there",
    normalise: [pendingTimes],
    script: [group(), ...add("1-1"), ["XCLAIM", "{q}", "g", "c", "0", "1-1", "FORCE"], ["XPENDING", "{q}", "g", "-", "+", "10"]],
    ezra: [OK, bulk("1-1"), `[${entry("1-1", ["n", "1-1"], 1)}]`, rows(["1-1", "c", 1])],
  },
  {
    name: "XCLAIM RETRYCOUNT must not be negative",
    expectDifferent: "the delivery count is the task's attempts, which cannot be negative",
    script: [...setup(), ["XCLAIM", "{q}", "g", "a", "0", "1-1", "RETRYCOUNT", "-1", "JUSTID"]],
    ezra: (p: Protocol) => [...setupReplies(p), err("ERR Invalid RETRYCOUNT option argument for XCLAIM")],
  },
];

function readReply(p: Protocol, ...entries: string[]): string {
  return p === 3 ? `{${bulk("q")}: [${entries.join(", ")}]}` : `[[${bulk("q")}, [${entries.join(", ")}]]]`;
}

function setupReplies(p: Protocol): string[] {
  const e = (id: string) => entry(id, ["n", id], 1);
  return [OK, bulk("1-1"), bulk("2-1"), bulk("3-1"), bulk("4-1"), readReply(p, e("1-1"), e("2-1")), readReply(p, e("3-1"))];
}

/** Cases that read with XREADGROUP compare entries without ezra's attempts fields. */
function withAttempts(c: Case): Case {
  if (c.expectDifferent || !c.script.some((step) => step[0] === "XREADGROUP")) return c;
  const normalise = c.normalise ?? [];
  return { ...c, normalise: normalise.includes(ezraAttemptFields) ? normalise : [ezraAttemptFields, ...normalise], because: ATTEMPTS };
}

differentialSuite("differential: pending entries and claims", [...xpending, ...xclaim, ...xautoclaim].map(withAttempts).concat(differences));
