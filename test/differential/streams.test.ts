// Differential cases for the stream commands both servers implement: XADD, XACK, XGROUP CREATE,
// XREADGROUP (errors and reply shape), XLEN, XDEL, XINFO STREAM. Each must answer exactly as Redis.
import { type Case, differentialSuite } from "./harness.ts";
import { autoIds, ezraAttemptFields, redis72Wording } from "./normalisers.ts";

// ezra's one declared difference in read replies; the rest of the entry shape must match.
const ATTEMPTS = "ezra appends attempts and max_attempts to each entry's fields (DESIGN.md)";
// A group made before any entry exists sees every entry in both servers ($ hides nothing yet).
const group = (key = "{q}", name = "g"): string[] => ["XGROUP", "CREATE", key, name, "$", "MKSTREAM"];

const xadd: Case[] = [
  { name: "XADD explicit ids", script: [["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "1-2", "b", "2"], ["XADD", "{q}", "2", "c", "3"]] },
  { name: "XADD * makes clock ids", normalise: [autoIds], script: [["XADD", "{q}", "*", "a", "1"], ["XADD", "{q}", "*", "a", "2"], ["XLEN", "{q}"]] },
  { name: "XADD ms-* counts the sequence", script: [["XADD", "{q}", "5-*", "a", "1"], ["XADD", "{q}", "5-*", "a", "1"], ["XADD", "{q}", "6-*", "a", "1"], ["XADD", "{q}", "0-*", "a", "1"]] },
  { name: "XADD 0-* on an empty stream", script: [["XADD", "{q}", "0-*", "a", "1"], ["XADD", "{q}", "0-*", "a", "1"]] },
  { name: "XADD equal id is an error", script: [["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "1", "a", "1"]] },
  { name: "XADD smaller id is an error", script: [["XADD", "{q}", "2-0", "a", "1"], ["XADD", "{q}", "1-5", "a", "1"], ["XADD", "{q}", "1-*", "a", "1"]] },
  { name: "XADD 0-0 is an error", script: [["XADD", "{q}", "0-0", "a", "1"], ["XADD", "{q}", "0", "a", "1"]] },
  { name: "XADD malformed ids", script: [["XADD", "{q}", "abc", "a", "1"], ["XADD", "{q}", "1-x", "a", "1"], ["XADD", "{q}", "-1", "a", "1"], ["XADD", "{q}", "1-2-3", "a", "1"], ["XADD", "{q}", "", "a", "1"]] },
  {
    name: "XADD NOMKSTREAM",
    script: [["XADD", "{q}", "NOMKSTREAM", "1-1", "a", "1"], ["XLEN", "{q}"], ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "NOMKSTREAM", "2-1", "a", "1"], ["XLEN", "{q}"]],
  },
  {
    name: "XADD MAXLEN trims",
    script: [
      ["XADD", "{q}", "MAXLEN", "2", "1-1", "a", "1"], ["XADD", "{q}", "MAXLEN", "2", "2-1", "a", "1"],
      ["XADD", "{q}", "MAXLEN", "=", "2", "3-1", "a", "1"], ["XLEN", "{q}"], ["XADD", "{q}", "MAXLEN", "0", "4-1", "a", "1"], ["XLEN", "{q}"],
    ],
  },
  { name: "XADD MINID trims", script: [["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "a", "1"], ["XADD", "{q}", "MINID", "2", "3-1", "a", "1"], ["XLEN", "{q}"]] },
  {
    name: "XADD MAXLEN/MINID syntax errors",
    script: [
      ["XADD", "{q}", "MAXLEN", "-1", "1-1", "a", "1"], ["XADD", "{q}", "MAXLEN", "abc", "1-1", "a", "1"],
      ["XADD", "{q}", "MAXLEN", "1-1", "a", "1"], ["XADD", "{q}", "MINID", "abc", "1-1", "a", "1"],
      ["XADD", "{q}", "MAXLEN", "2", "LIMIT", "10", "1-1", "a", "1"], ["XADD", "{q}", "MAXLEN", "~", "2", "LIMIT", "abc", "1-1", "a", "1"],
      ["XADD", "{q}", "MINID", "=", "1", "LIMIT", "5", "1-1", "a", "1"], ["XADD", "{q}", "MAXLEN", "~", "2", "LIMIT", "-1", "1-1", "a", "1"],
      ["XADD", "{q}", "MAXLEN", "1", "MINID", "1", "1-1", "a", "1"], ["XADD", "{q}", "MAXLEN", "1", "MAXLEN", "2", "1-1", "a", "1"],
      ["XLEN", "{q}"],
    ],
  },
  { name: "XADD MAXLEN ~ with LIMIT", script: [["XADD", "{q}", "MAXLEN", "~", "2", "LIMIT", "10", "1-1", "a", "1"], ["XLEN", "{q}"]] },
  {
    // XADD and XTRIM share one option parser, as in Redis: any order, NOMKSTREAM between, LIMIT 0 is no cap.
    name: "XADD trim options in any order",
    script: [
      ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "a", "1"], ["XADD", "{q}", "MAXLEN", "~", "0", "LIMIT", "0", "3-1", "a", "1"], ["XLEN", "{q}"],
      ["XADD", "{q}", "4-1", "a", "1"], ["XADD", "{q}", "LIMIT", "5", "MAXLEN", "~", "0", "5-1", "a", "1"], ["XLEN", "{q}"],
      ["XADD", "{q2}", "MAXLEN", "1", "NOMKSTREAM", "1-1", "a", "1"], ["XADD", "{q}", "MAXLEN", "1", "NOMKSTREAM", "6-1", "a", "1"], ["XLEN", "{q}"],
      ["XADD", "{q}", "LIMIT", "5", "7-1", "a", "1"],
    ],
  },
  {
    // A refused XADD on a missing key must not create it (an empty queue was left behind once).
    name: "XADD refused on a missing key leaves no key",
    script: [
      ["XADD", "{q}", "0-0", "a", "1"], ["XADD", "{q}", "0", "a", "1"], ["XADD", "{q}", "1-1", "a"], ["XADD", "{q}", "MAXLEN", "-1", "1-1", "a", "1"],
      ["XADD", "{q}", "abc", "a", "1"], ["XADD", "{q}", "NOMKSTREAM", "1-1", "a", "1"],
      ["EXISTS", "{q}"], ["TYPE", "{q}"], ["KEYS", "{q}*"], ["SCAN", "0", "MATCH", "{q}*", "COUNT", "100000"], ["XINFO", "STREAM", "{q}"], ["XADD", "{q}", "0-*", "a", "1"],
    ],
  },
  { name: "XADD odd field count", script: [["XADD", "{q}", "1-1", "a", "1", "b"], ["XADD", "{q}", "NOMKSTREAM", "1-1", "a"], ["XADD", "{q}", "MAXLEN", "5", "1-1", "a"], ["XLEN", "{q}"]] },
];

const xack: Case[] = [
  {
    name: "XACK counts",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      group(), ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "b", "2"], ["XADD", "{q}", "3-1", "c", "3"],
      ["XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "{q}", ">"],
      ["XACK", "{q}", "g", "1-1"], ["XACK", "{q}", "g", "1-1"], ["XACK", "{q}", "g", "9-9"], ["XACK", "{q}", "g", "2-1", "3-1", "9-9"],
    ],
  },
  { name: "XACK on a missing key", script: [["XACK", "{q}", "g", "1-1"], ["XACK", "{q}", "g", "1-1", "2-2"]] },
  { name: "XACK of entries never read", script: [group(), ["XADD", "{q}", "1-1", "a", "1"], ["XACK", "{q}", "g", "1-1"]] },
  { name: "XACK bad id", script: [group(), ["XACK", "{q}", "g", "abc"], ["XACK", "{q}", "g", "1-1", "x-1"]] },
];

const xgroup: Case[] = [
  { name: "XGROUP CREATE on a missing key", script: [["XGROUP", "CREATE", "{q}", "g", "$"], ["XGROUP", "CREATE", "{q}", "g", "0"]] },
  { name: "XGROUP CREATE MKSTREAM then BUSYGROUP", script: [group(), group(), ["XGROUP", "CREATE", "{q}", "g2", "0"], ["XLEN", "{q}"]] },
  { name: "XGROUP CREATE on an existing key", script: [["XADD", "{q}", "1-1", "a", "1"], ["XGROUP", "CREATE", "{q}", "g", "0"], ["XGROUP", "CREATE", "{q}", "g2", "1-1"]] },
  {
    name: "XGROUP CREATE bad id and options",
    script: [
      ["XGROUP", "CREATE", "{q}", "g", "abc", "MKSTREAM"], ["XADD", "{q}", "1-1", "a", "1"], ["XGROUP", "CREATE", "{q}", "g", "abc"],
      ["XGROUP", "CREATE", "{q}", "g", "0", "BOGUS"], ["XGROUP", "CREATE", "{q}", "g", "0", "MKSTREAM", "ENTRIESREAD"],
      ["XGROUP", "CREATE", "{q}", "g", "0", "ENTRIESREAD", "x"], ["XGROUP", "CREATE", "{q}", "g", "0", "ENTRIESREAD", "-5"],
      ["XGROUP", "CREATE", "{q}", "g", "0", "ENTRIESREAD", "1"], ["XGROUP", "CREATE", "{q}", "g2", "$", "ENTRIESREAD", "-1", "MKSTREAM"],
    ],
  },
];

const READ = ["XREADGROUP", "GROUP", "g", "c"];
const xreadgroup: Case[] = [
  { name: "XREADGROUP without GROUP", script: [["XREADGROUP", "COUNT", "1", "BLOCK", "0", "STREAMS", "{q}", ">"], ["XREADGROUP", "COUNT", "1", "STREAMS", "{q}", "{q2}", ">", ">"]] },
  {
    name: "XREADGROUP unbalanced streams",
    normalise: [redis72Wording],
    because: "redis-server 7.0 says 'Unbalanced XREAD list ... or '$''; 7.2+ names the command and '>', as ezra does",
    script: [group(), [...READ, "STREAMS", "{q}", "{q2}", ">"], [...READ, "COUNT", "1", "STREAMS", "{q}", "{q2}", "{q3}", ">", ">"]],
  },
  { name: "XREADGROUP $ id", script: [group(), [...READ, "STREAMS", "{q}", "$"]] },
  { name: "XREADGROUP bad COUNT", script: [group(), [...READ, "COUNT", "abc", "STREAMS", "{q}", ">"], [...READ, "COUNT", "1.5", "STREAMS", "{q}", ">"]] },
  {
    name: "XREADGROUP bad BLOCK",
    script: [group(), [...READ, "BLOCK", "-1", "STREAMS", "{q}", ">"], [...READ, "BLOCK", "abc", "STREAMS", "{q}", ">"]],
  },
  { name: "XREADGROUP bad option", script: [group(), [...READ, "BOGUS", "STREAMS", "{q}", ">"], [...READ, "COUNT", "1", "{q}", ">"]] },
  { name: "XREADGROUP bad id", script: [group(), [...READ, "STREAMS", "{q}", "abc"]] },
  { name: "XREADGROUP on an empty stream", script: [group(), [...READ, "STREAMS", "{q}", ">"], [...READ, "COUNT", "5", "STREAMS", "{q}", ">"]] },
  {
    name: "XREADGROUP reply shape",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      group(), ["XADD", "{q}", "1-1", "a", "1", "b", "2"], ["XADD", "{q}", "2-1", "c", "3"],
      [...READ, "COUNT", "10", "STREAMS", "{q}", ">"], [...READ, "COUNT", "10", "STREAMS", "{q}", ">"],
    ],
  },
  {
    name: "XREADGROUP own history with an explicit id",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      group(), ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "b", "2"], [...READ, "COUNT", "10", "STREAMS", "{q}", ">"],
      [...READ, "COUNT", "10", "STREAMS", "{q}", "0"], [...READ, "COUNT", "10", "STREAMS", "{q}", "1-1"],
      ["XACK", "{q}", "g", "1-1", "2-1"], [...READ, "COUNT", "10", "STREAMS", "{q}", "0"],
    ],
  },
  {
    name: "XREADGROUP several streams",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      group("{q}"), group("{q2}"), ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q2}", "1-1", "b", "2"],
      [...READ, "COUNT", "10", "STREAMS", "{q}", "{q2}", ">", ">"], [...READ, "COUNT", "10", "STREAMS", "{q}", "{q2}", ">", ">"],
    ],
  },
  {
    name: "XREADGROUP NOACK",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [group(), ["XADD", "{q}", "1-1", "a", "1"], [...READ, "COUNT", "10", "NOACK", "STREAMS", "{q}", ">"], ["XACK", "{q}", "g", "1-1"], [...READ, "STREAMS", "{q}", "0"]],
  },
  {
    name: "XREADGROUP binary-safe fields",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [group(), ["XADD", "{q}", "1-1", "emoji", "\u{1F600}", "", "empty name", "crlf", "a\r\nb"], [...READ, "COUNT", "10", "STREAMS", "{q}", ">"]],
  },
];

const others: Case[] = [
  { name: "XLEN on a missing key", script: [["XLEN", "{q}"]] },
  { name: "XLEN counts added entries", script: [["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "a", "1"], ["XLEN", "{q}"]] },
  {
    name: "XDEL counts entries not in flight",
    script: [
      ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "a", "1"], ["XDEL", "{q}", "1-1"], ["XDEL", "{q}", "1-1"],
      ["XDEL", "{q}", "9-9"], ["XDEL", "{q}", "2-1", "3-3"], ["XLEN", "{q}"], ["XADD", "{q}", "1-5", "a", "1"],
    ],
  },
  { name: "XDEL on a missing key", script: [["XDEL", "{q}", "1-1"], ["XDEL", "{q}", "1-1", "2-2"]] },
  { name: "XDEL bad id", script: [["XADD", "{q}", "1-1", "a", "1"], ["XDEL", "{q}", "abc"], ["XDEL", "{q}", "2-1", "1-x"], ["XLEN", "{q}"]] },
  { name: "XINFO STREAM on a missing key", script: [["XINFO", "STREAM", "{q}"]] },
  {
    name: "XSETID argument errors",
    script: [
      ["XSETID", "{q}", "1-1"], ["XSETID", "{q}", "abc"], ["XSETID", "{q}", "*"], ["XSETID", "{q}", "-"], ["XSETID", "{q}", "+"], ["XSETID", "{q}", "1-x"],
      ["XSETID", "{q}", "1-1", "BOGUS", "1"], ["XSETID", "{q}", "1-1", "ENTRIESADDED"], ["XSETID", "{q}", "1-1", "ENTRIESADDED", "x"],
      ["XSETID", "{q}", "1-1", "ENTRIESADDED", "-1"], ["XSETID", "{q}", "1-1", "MAXDELETEDID", "2-0"], ["XSETID", "{q}", "1-1", "MAXDELETEDID", "x"],
      ["XSETID", "{q}", "1-1", "ENTRIESADDED", "5", "MAXDELETEDID", "1-0"], ["EXISTS", "{q}"], ["XSETID", "{q}::dead", "1-1"],
    ],
  },
  {
    // Ids handed out after XSETID are greater than it; it may not go below the newest entry.
    name: "XSETID moves the last id",
    script: [
      ["XADD", "{q}", "5-5", "a", "1"], ["XADD", "{q}", "6-1", "a", "1"], ["XSETID", "{q}", "5-6"], ["XSETID", "{q}", "6-1", "ENTRIESADDED", "1"],
      ["XSETID", "{q}", "6-1"], ["XSETID", "{q}", "10"], ["XADD", "{q}", "9-1", "a", "1"], ["XADD", "{q}", "10-0", "a", "1"], ["XADD", "{q}", "10-*", "a", "1"],
      ["XSETID", "{q}", "8-0"], ["XSETID", "{q}", "10-1", "ENTRIESADDED", "2"], ["XSETID", "{q}", "20-0", "ENTRIESADDED", "100", "MAXDELETEDID", "15-0"],
      ["XADD", "{q}", "20-0", "a", "1"], ["XADD", "{q}", "20-*", "a", "1"], ["XLEN", "{q}"],
    ],
  },
  {
    // An empty stream has no top item: Redis 7.0 lets XSETID go below its deleted entries.
    name: "XSETID on an emptied stream",
    script: [["XADD", "{q}", "5-1", "a", "1"], ["XDEL", "{q}", "5-1"], ["XSETID", "{q}", "2-0"], ["XADD", "{q}", "2-*", "a", "1"], ["XSETID", "{q}", "1-0"]],
  },
];

differentialSuite("differential: stream commands", [...xadd, ...xack, ...xgroup, ...xreadgroup, ...others]);
