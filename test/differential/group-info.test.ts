// Differential cases for XINFO GROUPS / CONSUMERS / STREAM FULL and XGROUP DESTROY /
// CREATECONSUMER / DELCONSUMER / SETID. Clock readings are masked on both sides; ezra's
// intended differences (no task is dropped, groups share progress) are explicit cases.
import { XGROUP_SETID_REFUSED } from "../../src/commands/xgroup.ts";
import { bulk, entry, err, fields, int, nil, OK } from "./expected.ts";
import { ezraInfoFields, pendingTimes, radixTree, REDIS_72_CONSUMERS, redis72ConsumerFields } from "./claims-normalisers.ts";
import { type Case, differentialSuite, type Protocol } from "./harness.ts";
import { ezraAttemptFields } from "./normalisers.ts";

const ATTEMPTS = "ezra appends attempts and max_attempts to each entry's fields (DESIGN.md)";
const group = (name = "g"): string[] => ["XGROUP", "CREATE", "{q}", name, "$", "MKSTREAM"];
const add = (...ids: string[]): string[][] => ids.map((id) => ["XADD", "{q}", id, "n", id]);
const read = (consumer: string, count: number, g = "g"): string[] => ["XREADGROUP", "GROUP", g, consumer, "COUNT", String(count), "STREAMS", "{q}", ">"];
const setup = (): string[][] => [group(), ...add("1-1", "2-1", "3-1"), read("a", 2)];

const xinfo: Case[] = [
  { name: "XINFO GROUPS of a fresh group", script: [group(), ["XINFO", "GROUPS", "{q}"], ...add("1-1", "2-1"), ["XINFO", "GROUPS", "{q}"]] },
  {
    name: "XINFO GROUPS progress",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [...setup(), ["XINFO", "GROUPS", "{q}"], ["XACK", "{q}", "g", "1-1"], read("b", 1), ["XINFO", "GROUPS", "{q}"]],
  },
  { name: "XINFO GROUPS and CONSUMERS errors", script: [["XINFO", "GROUPS", "{q}"], ["XINFO", "CONSUMERS", "{q}", "g"], group(), ["XINFO", "CONSUMERS", "{q}", "nope"]] },
  {
    name: "XINFO CONSUMERS",
    normalise: [ezraAttemptFields, redis72ConsumerFields, pendingTimes],
    because: `${ATTEMPTS}; ${REDIS_72_CONSUMERS}`,
    script: [...setup(), read("b", 1), ["XACK", "{q}", "g", "3-1"], ["XINFO", "CONSUMERS", "{q}", "g"]],
  },
  {
    name: "XINFO STREAM FULL",
    normalise: [ezraAttemptFields, ezraInfoFields, redis72ConsumerFields, pendingTimes, radixTree],
    because: `${ATTEMPTS}; ezra's own ezra-* counts follow Redis's fields (see XINFO STREAM adds ezra's counts); ${REDIS_72_CONSUMERS}`,
    script: [
      ...setup(), read("b", 1), ["XACK", "{q}", "g", "3-1"], ["XINFO", "STREAM", "{q}", "FULL"], ["XINFO", "STREAM", "{q}", "FULL", "COUNT", "1"],
      ["XINFO", "STREAM", "{q}", "FULL", "COUNT", "0"], ["XINFO", "STREAM", "{q}", "FULL", "COUNT", "-1"],
    ],
  },
  {
    name: "XINFO STREAM FULL of an empty stream",
    normalise: [ezraInfoFields, radixTree],
    because: "ezra's own ezra-* counts follow Redis's fields (see XINFO STREAM adds ezra's counts)",
    script: [group(), ["XINFO", "STREAM", "{q}", "FULL"]],
  },
  {
    // max-deleted-entry-id follows XDEL (not trims), entries-added every XADD, and XSETID sets both.
    name: "XINFO STREAM max-deleted-entry-id and entries-added",
    normalise: [ezraAttemptFields, ezraInfoFields, radixTree],
    because: `${ATTEMPTS}; ezra's own ezra-* counts follow Redis's fields (see XINFO STREAM adds ezra's counts)`,
    script: [
      ...add("1-1", "2-1", "3-1", "4-1"), ["XDEL", "{q}", "2-1"], ["XTRIM", "{q}", "MAXLEN", "2"], ["XINFO", "STREAM", "{q}"], ["XDEL", "{q}", "1-1", "9-9"],
      ["XDEL", "{q}", "4-1"], ["XDEL", "{q}", "3-1"], ["XINFO", "STREAM", "{q}"], ["XSETID", "{q}", "8-0", "ENTRIESADDED", "7", "MAXDELETEDID", "0-0"], ["XINFO", "STREAM", "{q}"],
      ["XSETID", "{q}", "8-0", "MAXDELETEDID", "5-0"], ...add("9-1"), ["XINFO", "STREAM", "{q}"],
    ],
  },
  {
    name: "XINFO STREAM argument errors",
    script: [
      ["XINFO", "STREAM", "{q}", "FULL"], ["XINFO", "STREAM", "{q}", "BOGUS"], group(), ["XINFO", "STREAM", "{q}", "BOGUS"], ["XINFO", "STREAM", "{q}", "FULL", "COUNT"],
      ["XINFO", "STREAM", "{q}", "FULL", "COUNT", "1", "x"], ["XINFO", "STREAM", "{q}", "FULL", "COUNT", "x"], ["XINFO", "STREAM", "{q}", "FULL", "LIMIT", "1"],
    ],
  },
];

const xgroup: Case[] = [
  {
    name: "XGROUP CREATECONSUMER",
    normalise: [redis72ConsumerFields, pendingTimes],
    because: REDIS_72_CONSUMERS,
    script: [
      ["XGROUP", "CREATECONSUMER", "{q}", "g", "c"], group(), ["XGROUP", "CREATECONSUMER", "{q}", "g", "c"], ["XGROUP", "CREATECONSUMER", "{q}", "g", "c"],
      ["XGROUP", "CREATECONSUMER", "{q}", "nope", "c"], ["XINFO", "CONSUMERS", "{q}", "g"], ["XINFO", "GROUPS", "{q}"],
    ],
  },
  {
    name: "XGROUP DELCONSUMER counts the consumer's pending entries",
    normalise: [ezraAttemptFields],
    because: ATTEMPTS,
    script: [
      ["XGROUP", "DELCONSUMER", "{q}", "g", "a"], ...setup(), ["XGROUP", "DELCONSUMER", "{q}", "nope", "a"], ["XGROUP", "DELCONSUMER", "{q}", "g", "a"],
      ["XGROUP", "DELCONSUMER", "{q}", "g", "a"], ["XPENDING", "{q}", "g"],
    ],
  },
  {
    name: "XGROUP DESTROY",
    script: [["XGROUP", "DESTROY", "{q}", "g"], group(), ["XGROUP", "DESTROY", "{q}", "g"], ["XGROUP", "DESTROY", "{q}", "g"], ["XINFO", "GROUPS", "{q}"], ["XPENDING", "{q}", "g"]],
  },
  {
    name: "XGROUP SETID",
    script: [
      ["XGROUP", "SETID", "{q}", "g", "0"], group(), ["XGROUP", "SETID", "{q}", "g", "abc"], ["XGROUP", "SETID", "{q}", "nope", "abc"],
      ["XGROUP", "SETID", "{q}", "g", "0", "ENTRIESREAD", "x"], ["XGROUP", "SETID", "{q}", "g", "0", "ENTRIESREAD", "-2"],
      ["XGROUP", "SETID", "{q}", "g", "0", "BOGUS"], ["XGROUP", "SETID", "{q}", "g", "0", "ENTRIESREAD"], ["XGROUP", "SETID", "{q}", "g", "0", "MKSTREAM"],
    ],
  },
];

const readReply = (p: Protocol, ...entries: string[]) =>
  p === 3 ? `{${bulk("q")}: [${entries.join(", ")}]}` : `[[${bulk("q")}, [${entries.join(", ")}]]]`;
const e = (id: string, attempts = 1) => entry(id, ["n", id], attempts);
const plain = (id: string) => `[${bulk(id)}, [${bulk("n")}, ${bulk(id)}]]`;
const setupReplies = (p: Protocol) => [OK, bulk("1-1"), bulk("2-1"), bulk("3-1"), readReply(p, e("1-1"), e("2-1"))];
const groupInfo = (p: Protocol, name: string, consumers: number, pending: number, last: string, read: string, lag: number | null) =>
  fields(p, [["name", bulk(name)], ["consumers", int(consumers)], ["pending", int(pending)], ["last-delivered-id", bulk(last)], ["entries-read", read], ["lag", lag === null ? nil(p) : int(lag)]]);

const differences: Case[] = [
  {
    name: "XGROUP SETID is refused",
    expectDifferent: "groups share the queue's tasks: a group has no position of its own to move",
    script: [group(), ["XGROUP", "SETID", "{q}", "g", "0"], ["XGROUP", "SETID", "{q}", "g", "$"], ["XGROUP", "SETID", "{q}", "g", "0", "ENTRIESREAD", "1"]],
    ezra: [OK, ...Array(3).fill(err(`ERR ${XGROUP_SETID_REFUSED}`))],
  },
  {
    name: "XINFO GROUPS lag counts waiting tasks",
    expectDifferent: "ezra knows exactly which tasks are still waiting; Redis cannot count past a deleted entry and answers a null lag",
    script: [...setup(), ["XADD", "{q}", "4-1", "n", "4-1"], ["XDEL", "{q}", "4-1"], ["XINFO", "GROUPS", "{q}"]],
    ezra: (p) => [...setupReplies(p), bulk("4-1"), int(1), `[${groupInfo(p, "g", 1, 2, "2-1", int(3), 1)}]`],
    redis: (p) => [OK, bulk("1-1"), bulk("2-1"), bulk("3-1"), readReply(p, plain("1-1"), plain("2-1")), bulk("4-1"), int(1), `[${groupInfo(p, "g", 1, 2, "2-1", int(2), null)}]`],
  },
  {
    name: "XGROUP DELCONSUMER gives the tasks back",
    expectDifferent: "Redis drops the consumer's pending entries, so they are never delivered again; ezra never drops a task",
    script: [...setup(), ["XGROUP", "DELCONSUMER", "{q}", "g", "a"], read("b", 10)],
    ezra: (p) => [...setupReplies(p), int(2), readReply(p, e("1-1"), e("2-1"), e("3-1"))],
  },
  {
    name: "XGROUP DESTROY keeps tasks in flight",
    expectDifferent: "Redis drops the group's pending entries; ezra leaves them in flight until acked or their lease ends",
    script: [...setup(), ["XGROUP", "DESTROY", "{q}", "g"], ["XGROUP", "CREATE", "{q}", "g", "$"], ["XPENDING", "{q}", "g"]],
    ezra: (p) => [...setupReplies(p), int(1), OK, `[${int(2)}, ${bulk("1-1")}, ${bulk("2-1")}, [[${bulk("a")}, ${bulk("2")}]]]`],
  },
  {
    name: "XINFO GROUPS: groups share progress",
    expectDifferent: "groups share the queue's tasks, so every group shows the queue's last-delivered-id, entries-read and lag",
    script: [...setup(), ["XGROUP", "CREATE", "{q}", "late", "0"], ["XINFO", "GROUPS", "{q}"]],
    ezra: (p) => [...setupReplies(p), OK, `[${groupInfo(p, "g", 1, 2, "2-1", int(2), 1)}, ${groupInfo(p, "late", 0, 0, "2-1", int(2), 1)}]`],
  },
];

differentialSuite("differential: group and consumer inspection", [...xinfo, ...xgroup, ...differences]);
