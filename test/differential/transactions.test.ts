// Differential cases for transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH) on one connection,
// and for the server commands tools send (CONFIG GET/SET, WAIT, CLIENT KILL/UNBLOCK errors).
// Cases with two connections (another client's write, CLIENT UNBLOCK of a blocked reader) are in
// test/transactions.test.ts, also against a real redis-server.
import { bulk, entry, err, int, nilArray, OK, read } from "./expected.ts";
import { type Case, differentialSuite } from "./harness.ts";
import { autoIds, clientIds } from "./normalisers.ts";

const QUEUED = "+QUEUED";
const group = (name = "g"): string[] => ["XGROUP", "CREATE", "{q}", name, "$", "MKSTREAM"];

const multi: Case[] = [
  {
    name: "EXEC replies each queued command, errors included",
    script: [["MULTI"], ["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "1-1", "a", "1"], ["XLEN", "{q}"], ["XADD", "{q}", "0-0", "a", "1"], ["EXEC"], ["XLEN", "{q}"]],
  },
  { name: "EXEC of an empty transaction", script: [["MULTI"], ["EXEC"], ["EXEC"]] },
  { name: "EXEC and DISCARD without MULTI", script: [["EXEC"], ["DISCARD"], ["PING"]] },
  { name: "MULTI calls can not be nested", script: [["MULTI"], ["MULTI"], ["PING"], ["EXEC"]] },
  { name: "WATCH inside MULTI", script: [["MULTI"], ["WATCH", "{q}"], ["PING"], ["EXEC"]] },
  { name: "DISCARD drops the queued commands", script: [["MULTI"], ["XADD", "{q}", "1-1", "a", "1"], ["DISCARD"], ["XLEN", "{q}"], ["EXEC"]] },
  {
    name: "EXECABORT after an unknown command",
    script: [["MULTI"], ["XADD", "{q}", "1-1", "a", "1"], ["FOO", "bar"], ["EXEC"], ["XLEN", "{q}"], ["EXEC"]],
  },
  { name: "EXECABORT after an arity error", script: [["MULTI"], ["XADD", "{q}", "1-1", "a"], ["XADD", "{q}", "2-1", "a", "1"], ["EXEC"], ["XLEN", "{q}"]] },
  { name: "EXECABORT after an unknown subcommand", script: [["MULTI"], ["XGROUP", "FOO"], ["PING"], ["EXEC"]] },
  { name: "EXEC with arguments aborts the transaction", script: [["MULTI"], ["XADD", "{q}", "1-1", "a", "1"], ["EXEC", "now"], ["EXEC"], ["XLEN", "{q}"]] },
  { name: "transaction commands arity", script: [["MULTI", "x"], ["DISCARD", "x"], ["WATCH"], ["UNWATCH", "x"]] },
  { name: "RESET leaves MULTI", script: [["MULTI"], ["XADD", "{q}", "1-1", "a", "1"], ["RESET"], ["EXEC"], ["XLEN", "{q}"]] },
  { name: "QUIT inside MULTI closes without running", script: [["MULTI"], ["PING"], ["QUIT"], ["PING"]] },
  {
    name: "blocking commands inside MULTI do not block",
    script: [group(), ["MULTI"], ["BLPOP", "{l}", "0"], ["XREAD", "BLOCK", "0", "STREAMS", "{q}", "$"], ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "{q}", ">"], ["EXEC"]],
  },
  {
    name: "connection commands inside MULTI",
    script: [["MULTI"], ["PING"], ["ECHO", "hi"], ["SELECT", "0"], ["CLIENT", "SETNAME", "w1"], ["CLIENT", "GETNAME"], ["EXEC"], ["CLIENT", "GETNAME"]],
  },
  { name: "UNWATCH inside MULTI is queued", script: [["MULTI"], ["UNWATCH"], ["EXEC"]] },
];

const watch: Case[] = [
  { name: "WATCH then an own write: EXEC is null", normalise: [autoIds], script: [["WATCH", "{q}"], ["XADD", "{q}", "*", "a", "1"], ["MULTI"], ["PING"], ["EXEC"], ["XLEN", "{q}"]] },
  { name: "WATCH of an untouched key: EXEC runs", script: [["WATCH", "{q}"], ["MULTI"], ["XADD", "{q}", "1-1", "a", "1"], ["EXEC"], ["XLEN", "{q}"]] },
  { name: "UNWATCH forgets the write", script: [["WATCH", "{q}"], ["XADD", "{q}", "1-1", "a", "1"], ["UNWATCH"], ["MULTI"], ["PING"], ["EXEC"]] },
  { name: "EXEC unwatches", script: [["WATCH", "{q}"], ["MULTI"], ["EXEC"], ["XADD", "{q}", "1-1", "a", "1"], ["MULTI"], ["PING"], ["EXEC"]] },
  { name: "DISCARD unwatches", script: [["WATCH", "{q}"], ["MULTI"], ["DISCARD"], ["XADD", "{q}", "1-1", "a", "1"], ["MULTI"], ["PING"], ["EXEC"]] },
  { name: "WATCH then DEL: EXEC is null", script: [["XADD", "{q}", "1-1", "a", "1"], ["WATCH", "{q}"], ["DEL", "{q}"], ["MULTI"], ["PING"], ["EXEC"]] },
  { name: "WATCH of a missing key that is then created", script: [["WATCH", "{q}"], group(), ["MULTI"], ["PING"], ["EXEC"]] },
  { name: "WATCH then XTRIM: EXEC is null", script: [["XADD", "{q}", "1-1", "a", "1"], ["XADD", "{q}", "2-1", "a", "1"], ["WATCH", "{q}", "{other}"], ["XTRIM", "{q}", "MAXLEN", "1"], ["MULTI"], ["PING"], ["EXEC"]] },
  { name: "WATCH then a write to another key: EXEC runs", script: [["WATCH", "{q}"], ["XADD", "{other}", "1-1", "a", "1"], ["MULTI"], ["PING"], ["EXEC"]] },
  { name: "an aborted EXEC beats a changed WATCH", script: [["WATCH", "{q}"], ["XADD", "{q}", "1-1", "a", "1"], ["MULTI"], ["FOO"], ["EXEC"]] },
  {
    name: "WATCH: a claim or an ack is a change",
    expectDifferent: "a watched queue changes when its tasks change state: a claim or an ack changes what XLEN and XPENDING answer",
    script: [
      group(), ["XADD", "{q}", "1-1", "a", "1"],
      ["WATCH", "{q}"], ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "{q}", ">"], ["MULTI"], ["PING"], ["EXEC"],
      ["WATCH", "{q}"], ["XACK", "{q}", "g", "1-1"], ["MULTI"], ["PING"], ["EXEC"],
    ],
    ezra: (p) => [
      OK, bulk("1-1"),
      OK, read(p, [["q", [entry("1-1", ["a", "1"], 1)]]]), OK, QUEUED, nilArray(p),
      OK, int(1), OK, QUEUED, nilArray(p),
    ],
  },
];

const server: Case[] = [
  { name: "CONFIG GET settings ezra shares with Redis", script: [["CONFIG", "GET", "maxclients"], ["CONFIG", "GET", "timeout"], ["CONFIG", "GET", "save"], ["CONFIG", "GET", "maxmemory-policy"], ["CONFIG", "GET", "maxmemory"]] },
  { name: "CONFIG GET unknown setting", script: [["CONFIG", "GET", "no-such-setting"], ["CONFIG", "GET", "zz*"]] },
  { name: "CONFIG arity and subcommands", script: [["CONFIG"], ["CONFIG", "GET"], ["CONFIG", "SET", "timeout"], ["CONFIG", "FOO"]] },
  {
    name: "CONFIG GET appendonly",
    expectDifferent: "every write is in SQLite's write-ahead log before its reply, fsynced at each commit (--durability full)",
    script: [["CONFIG", "GET", "appendonly"], ["CONFIG", "GET", "appendfsync"], ["CONFIG", "GET", "databases"]],
    ezra: (p) => (p === 3 ? ['{"appendonly": "yes"}', '{"appendfsync": "always"}', '{"databases": "1"}'] : ['["appendonly", "yes"]', '["appendfsync", "always"]', '["databases", "1"]']),
  },
  {
    name: "CONFIG SET is refused",
    expectDifferent: "ezra's settings are fixed at start (flags, EZRA_* variables); per-queue settings have EZRA CONFIG SET",
    script: [["CONFIG", "SET", "timeout", "5"]],
    ezra: [err("ERR CONFIG SET is not supported ('timeout'): ezra's settings are fixed at start, by flags or EZRA_* environment variables (docs/configuration.md); per-queue settings change with EZRA CONFIG SET <queue> <name> <value>")],
  },
  { name: "WAIT with no replicas", script: [["WAIT", "0", "0"], ["WAIT", "1", "10"], ["WAIT", "x", "0"], ["WAIT", "1", "x"], ["WAIT", "1", "-1"], ["WAIT", "1"]] },
  { name: "TIME arity", script: [["TIME", "x"]] },
  {
    name: "CLIENT KILL matching nobody, and its errors",
    script: [
      ["CLIENT", "KILL", "1.2.3.4:5"], ["CLIENT", "KILL", "ID", "999999"], ["CLIENT", "KILL", "ADDR", "1.2.3.4:5"], ["CLIENT", "KILL", "LADDR", "1.2.3.4:5"],
      ["CLIENT", "KILL", "USER", "default", "SKIPME", "yes"], ["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"], ["CLIENT", "KILL", "TYPE", "pubsub"],
      ["CLIENT", "KILL", "ID", "x"], ["CLIENT", "KILL", "ID", "0"], ["CLIENT", "KILL", "USER", "bob"], ["CLIENT", "KILL", "TYPE", "foo"],
      ["CLIENT", "KILL", "SKIPME", "maybe"], ["CLIENT", "KILL", "FOO", "bar"], ["CLIENT", "KILL", "ID", "1", "ID"], ["CLIENT", "KILL"], ["PING"],
    ],
  },
  {
    name: "CLIENT UNBLOCK of a client not blocked, and its errors",
    script: [
      ["CLIENT", "UNBLOCK", "999999"], ["CLIENT", "UNBLOCK", "999999", "TIMEOUT"], ["CLIENT", "UNBLOCK", "999999", "error"], ["CLIENT", "UNBLOCK", "x"],
      ["CLIENT", "UNBLOCK", "999999", "FOO"], ["CLIENT", "UNBLOCK", "x", "FOO"], ["CLIENT", "UNBLOCK", "1", "TIMEOUT", "x"], ["CLIENT", "UNBLOCK"],
    ],
  },
  { name: "CLIENT KILL of itself with SKIPME no", normalise: [clientIds], script: [["CLIENT", "ID"], ["CLIENT", "KILL", "ID", "{@0}", "SKIPME", "no"], ["PING"]] },
  { name: "CLIENT KILL of itself by address", script: [["CLIENT", "KILL", "ID", "999999", "SKIPME", "no"], ["PING"]] },
];

differentialSuite("differential: transactions and server commands", [...multi, ...watch, ...server]);
