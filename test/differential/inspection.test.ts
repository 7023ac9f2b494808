// Differential cases for reading without claiming (XRANGE, XREVRANGE, XREAD), XTRIM, the
// keyspace commands and the list commands: the same scripts on redis-server and on ezra.
// Intended differences are explicit below and have rows in docs/differences.md.
import type { Reply } from "../helpers/resp-client.ts";
import { type Case, differentialSuite } from "./harness.ts";
import { ezraAttemptFields, mapReply, type Normaliser } from "./normalisers.ts";

const ATTEMPTS = "ezra appends attempts and max_attempts to each entry's fields (DESIGN.md)";

/** KEYS and SCAN list keys in hash order, which differs between any two servers: sort them. */
const sortedKeys: Normaliser = {
  name: "sortedKeys",
  side: "both",
  apply(reply, step) {
    const command = step[0]?.toLowerCase();
    if (command !== "keys" && command !== "scan") return reply;
    const sort = (r: Reply): Reply => {
      if (r.type !== "array" || !r.items.every((i) => i.type === "bulk")) return r;
      const names = r.items.map((i) => (i as { value: string }).value).sort();
      return { ...r, items: names.map((value) => ({ type: "bulk", value })) };
    };
    if (command === "keys") return sort(reply);
    return reply.type === "array" && reply.items.length === 2 ? { ...reply, items: [reply.items[0], sort(reply.items[1])] } : reply;
  },
};

/** redis-server 7.0 words XREAD's unbalanced-streams error differently from Redis 7.2, which ezra follows. */
const redis72XreadWording: Normaliser = {
  name: "redis72XreadWording",
  side: "redis",
  apply(reply, step) {
    const old = "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
    if (reply.type !== "error" || step[0]?.toLowerCase() !== "xread" || reply.value !== old) return reply;
    return { type: "error", value: "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified." };
  },
};

const seed: string[][] = [
  ["XADD", "{q}", "1-1", "n", "a"], ["XADD", "{q}", "2-1", "n", "b"], ["XADD", "{q}", "2-2", "n", "c"], ["XADD", "{q}", "3-0", "n", "d"],
];

const ranges: Case[] = [
  {
    name: "XRANGE bounds and COUNT",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      ...seed, ["XRANGE", "{q}", "-", "+"], ["XRANGE", "{q}", "(1-1", "+"], ["XRANGE", "{q}", "-", "(3-0"], ["XRANGE", "{q}", "2", "2"],
      ["XRANGE", "{q}", "(2", "+"], ["XRANGE", "{q}", "-", "+", "COUNT", "2"], ["XRANGE", "{q}", "-", "+", "COUNT", "0"],
      ["XRANGE", "{q}", "-", "+", "COUNT", "-1"], ["XRANGE", "{q}", "3", "1"], ["XRANGE", "{q2}", "-", "+"],
    ],
  },
  {
    name: "XREVRANGE bounds and COUNT",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [...seed, ["XREVRANGE", "{q}", "+", "-"], ["XREVRANGE", "{q}", "(3-0", "-", "COUNT", "2"], ["XREVRANGE", "{q}", "2", "2"], ["XREVRANGE", "{q}", "1", "3"]],
  },
  {
    name: "XRANGE errors",
    script: [
      ...seed, ["XRANGE", "{q}", "x", "+"], ["XRANGE", "{q}", "(-", "+"], ["XRANGE", "{q}", "-", "(+"], ["XRANGE", "{q}", "-", "+", "COUNT"],
      ["XRANGE", "{q}", "-", "+", "LIMIT", "1"], ["XRANGE", "{q}", "-", "+", "COUNT", "x"], ["XRANGE", "{q}", "-"], ["XREVRANGE", "{q}", "+"],
    ],
  },
  {
    name: "XRANGE shows read and acked entries",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      ["XGROUP", "CREATE", "{q}", "g", "$", "MKSTREAM"], ...seed, ["XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "{q}", ">"],
      ["XACK", "{q}", "g", "1-1"], ["XRANGE", "{q}", "-", "+"],
    ],
  },
];

const xread: Case[] = [
  {
    name: "XREAD after ids, COUNT, several keys",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      ...seed, ["XADD", "{q2}", "5-0", "m", "x"], ["XREAD", "STREAMS", "{q}", "0"], ["XREAD", "COUNT", "1", "STREAMS", "{q}", "{q2}", "2-1", "0"],
      ["XREAD", "STREAMS", "{q}", "{q3}", "2", "0"], ["XREAD", "COUNT", "0", "STREAMS", "{q}", "2-2"], ["XREAD", "COUNT", "-5", "STREAMS", "{q2}", "0"],
    ],
  },
  { name: "XREAD with nothing new", script: [...seed, ["XREAD", "STREAMS", "{q}", "$"], ["XREAD", "STREAMS", "{q}", "3-0"], ["XREAD", "STREAMS", "{q3}", "0"]] },
  { name: "XREAD BLOCK times out", script: [...seed, ["XREAD", "BLOCK", "10", "STREAMS", "{q}", "$"], ["XREAD", "BLOCK", "10", "STREAMS", "{q3}", "0"]] },
  {
    name: "XREAD errors",
    script: [
      ...seed, ["XREAD", "STREAMS", "{q}", ">"], ["XREAD", "COUNT", "1", "{q}", "0"],
      ["XREAD", "BLOCK", "-1", "STREAMS", "{q}", "0"], ["XREAD", "BLOCK", "x", "STREAMS", "{q}", "0"], ["XREAD", "COUNT", "x", "STREAMS", "{q}", "0"],
      ["XREAD", "BOGUS", "STREAMS", "{q}", "0"], ["XREAD", "STREAMS", "{q}", "x"], ["XREAD", "STREAMS", "{q}"],
    ],
  },
];

xread.push({
  name: "XREAD unbalanced streams",
  normalise: [redis72XreadWording],
  because: "ezra answers Redis 7.2's wording of this error, as for XREADGROUP; the installed redis-server may be 7.0",
  script: [["XREAD", "STREAMS", "{q}", "{q2}", "0"], ["XREAD", "COUNT", "1", "STREAMS", "{q}", "{q2}", "{q3}", "0", "0"]],
});

const six = ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"].map((id) => ["XADD", "{q}", id, "n", id]);
const xtrim: Case[] = [
  {
    name: "XTRIM exact MAXLEN and MINID",
    script: [...six, ["XTRIM", "{q}", "MAXLEN", "5"], ["XTRIM", "{q}", "MAXLEN", "=", "4"], ["XTRIM", "{q}", "MINID", "4"], ["XTRIM", "{q}", "MINID", "=", "0"], ["XLEN", "{q}"], ["XTRIM", "{q2}", "MAXLEN", "0"]],
  },
  {
    name: "XTRIM errors",
    script: [
      ...six, ["XTRIM", "{q}", "MAXLEN", "1", "LIMIT", "1"], ["XTRIM", "{q}", "LIMIT", "5"], ["XTRIM", "{q}", "MAXLEN", "1", "MINID", "1"],
      ["XTRIM", "{q}", "MAXLEN", "-1"], ["XTRIM", "{q}", "MAXLEN", "~", "1", "LIMIT", "-1"], ["XTRIM", "{q}", "MAXLEN", "1.5"],
      ["XTRIM", "{q}", "MINID", "x"], ["XTRIM", "{q}", "MAXLEN", "1", "foo"], ["XTRIM", "{q}", "MAXLEN"], ["XLEN", "{q}"],
    ],
  },
  {
    // Redis removes whole radix-tree nodes only (100 entries each), so `~` on a small stream removes nothing.
    name: "XTRIM ~ trims exactly",
    expectDifferent: "ezra always trims exactly; Redis may keep more with ~ (it allows either)",
    script: [...six, ["XTRIM", "{q}", "MAXLEN", "~", "2"], ["XTRIM", "{q}", "MAXLEN", "~", "0", "LIMIT", "0"], ["XLEN", "{q}"]],
    redis: [":1", ":1", ":1", ":1", ":1", ":1", ":0", ":6", ":0"].map((s, i) => (i < 6 ? JSON.stringify(`${i + 1}-0`) : s)),
    ezra: ['"1-0"', '"2-0"', '"3-0"', '"4-0"', '"5-0"', '"6-0"', ":4", ":2", ":0"],
  },
];

const keyspace: Case[] = [
  {
    name: "EXISTS and TYPE",
    script: [["EXISTS", "{q}"], ["TYPE", "{q}"], ["XADD", "{q}", "1-1", "a", "1"], ["EXISTS", "{q}", "{q}", "{q2}"], ["TYPE", "{q}"], ["TYPE", "{q2}"]],
  },
  {
    name: "DEL and UNLINK",
    script: [
      ["XADD", "{q}", "5-5", "a", "1"], ["XADD", "{q2}", "1-1", "a", "1"], ["DEL", "{q}", "{q}", "{q3}"], ["EXISTS", "{q}"], ["XLEN", "{q}"],
      ["XADD", "{q}", "1-1", "a", "1"], ["UNLINK", "{q2}"], ["DEL", "{q3}"], ["TYPE", "{q2}"],
    ],
  },
  {
    name: "KEYS and SCAN with MATCH",
    normalise: [sortedKeys],
    script: [
      ["XADD", "{k:a}", "1-1", "a", "1"], ["XADD", "{k:b}", "1-1", "a", "1"], ["XADD", "{other}", "1-1", "a", "1"],
      ["KEYS", "{k:}*"], ["KEYS", "{k:}[ab]"], ["KEYS", "{k:}?"], ["KEYS", "{nothing}*"],
      ["SCAN", "0", "MATCH", "{k:}*", "COUNT", "1000"], ["SCAN", "0", "MATCH", "{other}", "COUNT", "1000", "TYPE", "stream"],
      ["SCAN", "0", "MATCH", "{k:}*", "COUNT", "1000", "TYPE", "list"],
    ],
  },
  {
    name: "SCAN and KEYS errors",
    script: [["SCAN", "x"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "x"], ["SCAN", "0", "MATCH"], ["SCAN", "0", "FOO", "1"], ["KEYS"], ["TYPE", "a", "b"], ["DEL"]],
  },
];

const lists: Case[] = [
  {
    name: "RPUSH then LPOP is FIFO",
    script: [["RPUSH", "{q}", "a", "b", "c"], ["LLEN", "{q}"], ["LPOP", "{q}"], ["LPOP", "{q}", "2"], ["LPOP", "{q}"], ["LPOP", "{q}", "2"], ["LLEN", "{q}"]],
  },
  { name: "LPUSH then RPOP is FIFO", script: [["LPUSH", "{q}", "a", "b"], ["LPUSH", "{q}", "c"], ["RPOP", "{q}"], ["RPOP", "{q}", "5"], ["RPOP", "{q}"]] },
  { name: "LPOP COUNT 0", script: [["LPOP", "{q}", "0"], ["RPUSH", "{q}", "a"], ["LPOP", "{q}", "0"], ["LLEN", "{q}"]] },
  { name: "BLPOP and BRPOP", script: [["RPUSH", "{q2}", "x", "y"], ["BLPOP", "{q}", "{q2}", "0"], ["BRPOP", "{q}", "{q2}", "0.5"], ["BLPOP", "{q}", "{q2}", "0.01"]] },
  {
    name: "list command errors",
    script: [
      ["LPOP", "{q}", "-1"], ["LPOP", "{q}", "x"], ["LPOP", "{q}", "1", "2"], ["RPUSH", "{q}"], ["BLPOP", "{q}"], ["BLPOP", "{q}", "-1"],
      ["BLPOP", "{q}", "soon"], ["LLEN"],
    ],
  },
  {
    name: "LPUSH then LPOP is FIFO",
    expectDifferent: "a queue is FIFO: every pop takes the oldest task; a Redis list pops LPUSHed elements newest first",
    script: [["LPUSH", "{q}", "a", "b", "c"], ["LPOP", "{q}"], ["LPOP", "{q}", "2"]],
    redis: [":3", '"c"', '["b", "a"]'],
    ezra: [":3", '"a"', '["b", "c"]'],
  },
  {
    name: "RPUSH reply counts up to 1000",
    expectDifferent: "a push counts the waiting tasks no further than 1,000, so a long backlog does not slow every push",
    script: [["RPUSH", "{q}", ...Array.from({ length: 1001 }, (_, i) => `e${i}`)], ["LLEN", "{q}"]],
    redis: [":1001", ":1001"],
    ezra: [":1000", ":1001"],
  },
  {
    name: "list keys are streams",
    expectDifferent: "every key is a queue, so TYPE answers stream, and stream commands reach list-pushed tasks",
    script: [["RPUSH", "{q}", "a"], ["TYPE", "{q}"], ["XLEN", "{q}"]],
    redis: [":1", "+list", "-WRONGTYPE Operation against a key holding the wrong kind of value"],
    ezra: [":1", "+stream", ":1"],
  },
  {
    name: "LPOP on an XADD task",
    expectDifferent: "a list pop returns a task whose only field is `value` as that value, any other task as its whole field list",
    script: [
      ["XADD", "{q}", "1-1", "to", "ada", "value", "v"], ["XADD", "{q}", "2-1", "to", "bob"], ["XADD", "{q}", "3-1", "value", "w"],
      ["LPOP", "{q}", "3"],
    ],
    redis: ['"1-1"', '"2-1"', '"3-1"', "-WRONGTYPE Operation against a key holding the wrong kind of value"],
    ezra: ['"1-1"', '"2-1"', '"3-1"', '[["to", "ada", "value", "v"], ["to", "bob"], "w"]'],
  },
];

differentialSuite("differential: inspection, keyspace and list commands", [...ranges, ...xread, ...xtrim, ...keyspace, ...lists]);
