// ezra's intended differences from Redis, each an explicit case: the runner asserts that Redis
// answers differently and that ezra answers exactly what is recorded here. Rows: docs/differences.md.
import { bulk, entry, err, fields, int, nilArray, OK, read } from "./expected.ts";
import { type Case, differentialSuite } from "./harness.ts";

const group = (name = "g"): string[] => ["XGROUP", "CREATE", "{q}", name, "$", "MKSTREAM"];
const pop = (g = "g", ...opts: string[]): string[] => ["XREADGROUP", "GROUP", g, "c", ...opts, "STREAMS", "{q}", ">"];

const cases: Case[] = [
  {
    name: "XLEN counts only waiting tasks",
    expectDifferent: "XLEN is the number of tasks waiting; a claimed task is not waiting",
    script: [group(), ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "a", "2"], pop("g", "COUNT", "1"), ["XLEN", "{q}"]],
    ezra: (p) => [OK, bulk("1-1"), bulk("2-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]]), int(1)],
  },
  {
    name: "XDEL on an in-flight task nacks it",
    expectDifferent: "deleting a task a worker holds would lose it; it is given back instead",
    script: [group(), ["XADD", "{q}", "1-1", "a", "1"], pop("g", "COUNT", "1"), ["XDEL", "{q}", "1-1"], ["XLEN", "{q}"], pop("g", "COUNT", "1")],
    ezra: (p) => [OK, bulk("1-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]]), int(1), int(1), read(p, [["q", [entry("1-1", ["a", "1"], 2)]]])],
  },
  {
    name: "consumer groups share tasks",
    expectDifferent: "a task queue hands each task to one worker, whatever its group",
    script: [group("g1"), ["XGROUP", "CREATE", "{q}", "g2", "$"], ["XADD", "{q}", "1-1", "a", "1"], pop("g1", "COUNT", "10"), pop("g2", "COUNT", "10")],
    ezra: (p) => [OK, OK, bulk("1-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]]), nilArray(p)],
  },
  {
    name: "XACK through any group",
    expectDifferent: "groups share tasks, so any group's XACK completes the task",
    script: [group("g1"), ["XGROUP", "CREATE", "{q}", "g2", "$"], ["XADD", "{q}", "1-1", "a", "1"], pop("g1", "COUNT", "1"), ["XACK", "{q}", "g2", "1-1"], ["XACK", "{q}", "g1", "1-1"]],
    ezra: (p) => [OK, OK, bulk("1-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]]), int(1), int(0)],
  },
  {
    name: "XGROUP CREATE $ hides nothing",
    expectDifferent: "a queue never drops work because no group existed when it was pushed",
    script: [["XADD", "{q}", "1-1", "a", "1"], ["XGROUP", "CREATE", "{q}", "g", "$"], pop("g", "COUNT", "10")],
    ezra: (p) => [bulk("1-1"), OK, read(p, [["q", [entry("1-1", ["a", "1"], 1)]]])],
  },
  {
    name: "XREADGROUP creates a missing group",
    expectDifferent: "workers that never call XGROUP CREATE just work",
    script: [pop("g", "COUNT", "1"), ["XADD", "{q}", "1-1", "a", "1"], pop("g", "COUNT", "1")],
    ezra: (p) => [nilArray(p), bulk("1-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]])],
  },
  {
    name: "XREADGROUP COUNT defaults to 1",
    expectDifferent: "a worker should not claim a whole backlog by accident",
    script: [group(), ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "b", "2"], pop("g")],
    ezra: (p) => [OK, bulk("1-1"), bulk("2-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]])],
  },
  {
    name: "read replies carry attempts and max_attempts",
    expectDifferent: "workers need the delivery count without another call",
    script: [group(), ["XADD", "{q}", "1-1", "a", "1"], pop("g", "COUNT", "1"), ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "{q}", "0"]],
    ezra: (p) => [OK, bulk("1-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]]), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]])],
  },
  {
    name: "dead-letter view q::dead",
    expectDifferent: "a task out of attempts moves to <queue>::dead, where it can be counted, claimed and acked",
    script: [
      group(), ["XADD", "{q}", "1-1", "a", "1", "max_attempts", "1"], pop("g", "COUNT", "1"), ["XNACK", "{q}", "g", "1-1", "REASON", "boom"],
      ["XLEN", "{q}"], ["XLEN", "{q}::dead"], ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "{q}::dead", ">"],
      ["XACK", "{q}::dead", "g", "1-1"], ["XLEN", "{q}::dead"],
    ],
    ezra: (p) => [
      OK, bulk("1-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1, 1)]]]), OK,
      int(0), int(1), read(p, [["q::dead", [entry("1-1", ["a", "1"], 1, 1)]]]),
      int(1), int(0),
    ],
  },
  {
    name: "XSETID on a dead view is refused",
    expectDifferent: "a dead view's ids are its queue's",
    script: [["XADD", "{q}", "1-1", "a", "1"], ["XSETID", "{q}::dead", "5-0"], ["XADD", "{q}", "2-1", "a", "1"]],
    ezra: [bulk("1-1"), err("ERR ids belong to 'q', not its dead-letter view 'q::dead'"), bulk("2-1")],
  },
  {
    name: "XADD to a dead view is refused",
    expectDifferent: "dead letters are made by the lifecycle only",
    script: [["XADD", "{q}::dead", "1-1", "a", "1"], ["XLEN", "{q}::dead"]],
    ezra: [err("ERR 'q::dead' is the dead-letter view of 'q'; push to 'q'"), int(0)],
  },
  {
    name: "XNACK and EZRA are ezra's own commands",
    expectDifferent: "retries with a reason and per-queue settings have no Redis command",
    script: [["XNACK", "{q}", "g", "1-1"], ["XNACK", "{q}", "g"], ["EZRA", "CONFIG", "GET", "{q}"], ["EZRA", "CONFIG"]],
    ezra: [
      err("NOGROUP No such key 'q' or consumer group 'g'"), err("ERR wrong number of arguments for 'xnack' command"),
      err("ERR no such key"), err("ERR wrong number of arguments for 'ezra|config' command"),
    ],
  },
  {
    name: "data commands are not implemented",
    expectDifferent: "ezra is a task queue, not a Redis replacement",
    script: [["SET", "{k}", "v"], ["GET", "{k}"], ["INCR", "{k}"]],
    ezra: [
      err("ERR unknown command 'SET', with args beginning with: 'k' 'v' "), err("ERR unknown command 'GET', with args beginning with: 'k' "),
      err("ERR unknown command 'INCR', with args beginning with: 'k' "),
    ],
  },
  {
    name: "SELECT 1 is out of range",
    expectDifferent: "ezra has one keyspace, database 0",
    script: [["SELECT", "1"], ["SELECT", "0"]],
    ezra: [err("ERR DB index is out of range"), OK],
  },
  {
    name: "XINFO STREAM adds ezra's counts",
    expectDifferent: "operators want per-state counts; length counts entries still in the stream",
    script: [group(), ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "b", "2"], pop("g", "COUNT", "1"), ["XINFO", "STREAM", "{q}"]],
    ezra: (p) => [
      OK, bulk("1-1"), bulk("2-1"), read(p, [["q", [entry("1-1", ["a", "1"], 1)]]]),
      fields(p, [
        ["length", int(2)], ["radix-tree-keys", int(2)], ["radix-tree-nodes", int(2)], ["last-generated-id", bulk("2-1")],
        ["max-deleted-entry-id", bulk("0-0")], ["entries-added", int(2)], ["recorded-first-entry-id", bulk("1-1")], ["groups", int(1)],
        ["first-entry", entry("1-1", ["a", "1"], 1)], ["last-entry", entry("2-1", ["b", "2"], 0)],
        ["ezra-available", int(1)], ["ezra-in-flight", int(1)], ["ezra-done", int(0)], ["ezra-dead", int(0)],
        ["ezra-visibility-timeout-ms", int(30000)], ["ezra-max-attempts", int(3)],
      ]),
    ],
  },
];

differentialSuite("differential: ezra's intended differences", cases);
