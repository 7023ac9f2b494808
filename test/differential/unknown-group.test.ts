// Differential cases for a group that does not exist (never created, or destroyed): XACK acks
// nothing, the commands that read a group answer NOGROUP, exactly as Redis 7. Only XREADGROUP
// creates a missing group (an intended difference of its own, in differences.test.ts).
import { err } from "./expected.ts";
import { type Case, differentialSuite } from "./harness.ts";
import { ezraAttemptFields } from "./normalisers.ts";

const ATTEMPTS = "ezra appends attempts and max_attempts to each entry's fields (DESIGN.md)";
// The group exists before any entry, so both servers deliver the entry to it.
const setup = (): string[][] => [
  ["XGROUP", "CREATE", "{q}", "g", "$", "MKSTREAM"], ["XADD", "{q}", "1-1", "a", "1"],
  ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "{q}", ">"],
];

const cases: Case[] = [
  {
    name: "XACK through a group that does not exist",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      // Redis answers 0 for a missing group or key before it parses the ids: bad ids too.
      ...setup(), ["XACK", "{q}", "nope", "1-1"], ["XACK", "{q}", "nope", "not-an-id"], ["XACK", "{q}2", "g", "1-1"],
      ["XACK", "{q}2", "g", "not-an-id"], ["XACK", "{q}", "g", "not-an-id"],
      // The task is still in flight through g, and g's XACK completes it.
      ["XPENDING", "{q}", "g"], ["XACK", "{q}", "g", "1-1"], ["XPENDING", "{q}", "g"],
    ],
  },
  {
    name: "XACK after XGROUP DESTROY",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [...setup(), ["XGROUP", "DESTROY", "{q}", "g"], ["XACK", "{q}", "g", "1-1"], ["XGROUP", "CREATE", "{q}", "g", "0"], ["XACK", "{q}", "g", "not-an-id"]],
  },
  {
    name: "commands that read a group answer NOGROUP for one that does not exist",
    script: [
      ["XADD", "{q}", "1-1", "a", "1"], ["XGROUP", "CREATE", "{q}", "g", "0"],
      ["XPENDING", "{q}", "nope"], ["XPENDING", "{q}", "nope", "-", "+", "10"], ["XCLAIM", "{q}", "nope", "c", "0", "1-1"],
      ["XAUTOCLAIM", "{q}", "nope", "c", "0", "0"], ["XINFO", "CONSUMERS", "{q}", "nope"],
      ["XGROUP", "CREATECONSUMER", "{q}", "nope", "c"], ["XGROUP", "DELCONSUMER", "{q}", "nope", "c"],
      ["XGROUP", "SETID", "{q}", "nope", "0"], ["XGROUP", "DESTROY", "{q}", "nope"],
    ],
  },
  {
    name: "commands that read a group on a missing key",
    script: [
      ["XPENDING", "{q}", "g"], ["XPENDING", "{q}", "g", "-", "+", "10"], ["XCLAIM", "{q}", "g", "c", "0", "1-1"],
      ["XAUTOCLAIM", "{q}", "g", "c", "0", "0"], ["XGROUP", "DESTROY", "{q}", "g"],
    ],
  },
  {
    name: "XNACK through a group that does not exist",
    expectDifferent: "XNACK is ezra's own; it answers a missing group or key with Redis's NOGROUP, as XCLAIM does",
    script: [
      ["XGROUP", "CREATE", "{q}", "g", "$", "MKSTREAM"], ["XNACK", "{q}", "nope", "1-1"], ["XNACK", "{q}", "nope", "not-an-id"],
      ["XNACK", "{q}2", "g", "1-1", "REASON", "why"],
    ],
    ezra: [
      "+OK", err("NOGROUP No such key 'q' or consumer group 'nope'"), err("NOGROUP No such key 'q' or consumer group 'nope'"),
      err("NOGROUP No such key 'q2' or consumer group 'g'"),
    ],
  },
];

differentialSuite("differential: a consumer group that does not exist", cases);
