// Differential cases for queues set to `entry_fields plain` (EZRA CONFIG SET, run on ezra alone
// before each script): every entry is exactly the pushed fields, as redis-server answers, with
// no normaliser; XREADGROUP without COUNT delivers every waiting entry, as Redis does.
import { pendingTimes } from "./claims-normalisers.ts";
import { type Case, differentialSuite } from "./harness.ts";

const plain = [["EZRA", "CONFIG", "SET", "{q}", "entry_fields", "plain"]];
const group = (name = "g"): string[] => ["XGROUP", "CREATE", "{q}", name, "$", "MKSTREAM"];
const add = (...ids: string[]): string[][] => ids.map((id) => ["XADD", "{q}", id, "n", id, "kind", "job"]);
const read = (consumer: string, ...count: string[]): string[] => ["XREADGROUP", "GROUP", "g", consumer, ...count, "STREAMS", "{q}", ">"];

const cases: Case[] = [
  {
    name: "plain entries: deliveries and reads carry the pushed fields only",
    ezraSetup: plain,
    script: [
      group(), ...add("1-1", "2-1", "3-1"), read("a", "COUNT", "2"), ["XRANGE", "{q}", "-", "+"], ["XREVRANGE", "{q}", "+", "-", "COUNT", "2"],
      ["XREAD", "STREAMS", "{q}", "0"], ["XREADGROUP", "GROUP", "g", "a", "STREAMS", "{q}", "0"], ["XACK", "{q}", "g", "1-1"],
      ["XREADGROUP", "GROUP", "g", "a", "STREAMS", "{q}", "0"],
    ],
  },
  {
    name: "plain entries: XREADGROUP without COUNT delivers every waiting entry",
    ezraSetup: plain,
    script: [group(), ...add("1-1", "2-1", "3-1", "4-1"), read("a"), read("b"), ...add("5-1"), read("b"), ["XPENDING", "{q}", "g"]],
  },
  {
    name: "plain entries: XCLAIM and XAUTOCLAIM hand over the pushed fields, and count deliveries as Redis does",
    ezraSetup: plain,
    normalise: [pendingTimes],
    script: [
      group(), ...add("1-1", "2-1", "3-1"), read("a", "COUNT", "3"), ["XCLAIM", "{q}", "g", "b", "0", "1-1"],
      ["XAUTOCLAIM", "{q}", "g", "c", "0", "0-0", "COUNT", "2"], ["XPENDING", "{q}", "g", "-", "+", "10"],
    ],
  },
];

differentialSuite("differential: queues with plain entries", cases);
