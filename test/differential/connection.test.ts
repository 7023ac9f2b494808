// Differential cases for the connection commands client handshakes send: HELLO, PING, ECHO,
// SELECT, CLIENT, AUTH, QUIT, RESET, and the texts of unknown commands and subcommands.
import { type Case, differentialSuite } from "./harness.ts";
import { clientIds, serverVersions } from "./normalisers.ts";

const hello: Case[] = [
  { name: "HELLO with no version", normalise: [clientIds, serverVersions], script: [["HELLO"]] },
  { name: "HELLO 2 then a reply", normalise: [clientIds, serverVersions], script: [["HELLO", "2"], ["XINFO", "STREAM", "{q}"], ["CLIENT", "GETNAME"]] },
  { name: "HELLO 3 then a reply", normalise: [clientIds, serverVersions], script: [["HELLO", "3"], ["XINFO", "STREAM", "{q}"], ["CLIENT", "GETNAME"]] },
  { name: "HELLO SETNAME", normalise: [clientIds, serverVersions], script: [["HELLO", "3", "SETNAME", "worker-1"], ["CLIENT", "GETNAME"], ["HELLO", "2"]] },
  {
    name: "HELLO bad arguments",
    script: [["HELLO", "4"], ["HELLO", "1"], ["HELLO", "abc"], ["HELLO", "3", "BOGUS"], ["HELLO", "3", "SETNAME"], ["HELLO", "3", "SETNAME", "a b"], ["HELLO", "3", "AUTH", "default"]],
  },
  {
    name: "HELLO AUTH with no password configured",
    normalise: [clientIds, serverVersions],
    script: [["HELLO", "3", "AUTH", "default", "secret"], ["HELLO", "2", "AUTH", "bob", "secret"], ["PING"]],
  },
  { name: "RESET returns to RESP2", normalise: [clientIds, serverVersions], script: [["HELLO", "3", "SETNAME", "n"], ["RESET"], ["CLIENT", "GETNAME"], ["XINFO", "STREAM", "{q}"]] },
];

const basics: Case[] = [
  { name: "PING", script: [["PING"], ["ping"], ["PING", "hello"], ["PING", ""], ["PING", "a", "b"]] },
  { name: "ECHO", script: [["ECHO", "hello"], ["ECHO", ""], ["ECHO", "a\r\nb"], ["ECHO", "\u00e9t\u00e9"], ["ECHO"]] },
  { name: "SELECT 0", script: [["SELECT", "0"], ["PING"]] },
  { name: "SELECT bad index", script: [["SELECT", "abc"], ["SELECT", "-1"], ["SELECT", "1.5"]] },
  { name: "QUIT closes after +OK", script: [["PING"], ["QUIT"], ["PING"]] },
  { name: "QUIT with arguments", script: [["QUIT", "now"], ["PING"]] },
  { name: "AUTH with no password configured", script: [["AUTH", "secret"], ["AUTH", "default", "secret"], ["AUTH", "bob", "secret"], ["PING"]] },
  { name: "AUTH with too many arguments", script: [["AUTH", "a", "b", "c"]] },
];

const client: Case[] = [
  { name: "CLIENT GETNAME before SETNAME", script: [["CLIENT", "GETNAME"]] },
  { name: "CLIENT SETNAME and GETNAME", script: [["CLIENT", "SETNAME", "worker-7"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", ""], ["CLIENT", "GETNAME"]] },
  { name: "CLIENT SETNAME bad names", script: [["CLIENT", "SETNAME", "a b"], ["CLIENT", "SETNAME", "a\nb"], ["CLIENT", "SETNAME", "\u00e9"], ["CLIENT", "GETNAME"]] },
  { name: "CLIENT ID", normalise: [clientIds], script: [["CLIENT", "ID"], ["client", "id"]] },
  { name: "CLIENT NO-EVICT", script: [["CLIENT", "NO-EVICT", "on"], ["CLIENT", "NO-EVICT", "off"], ["CLIENT", "NO-EVICT", "maybe"]] },
];

const unknown: Case[] = [
  { name: "unknown command", script: [["FOO"], ["FOO", "a", "b"], ["foo", ""], ["FOO", "x".repeat(200)]] },
  { name: "unknown subcommand", script: [["XGROUP", "FOO"], ["XGROUP", "FOO", "k"], ["CLIENT", "FOO"], ["XINFO", "bar", "k"], ["COMMAND", "FOO"]] },
  { name: "subcommand HELP arity", script: [["XGROUP", "HELP", "x"], ["XINFO", "HELP", "x"]] },
];

differentialSuite("differential: connection commands", [...hello, ...basics, ...client, ...unknown]);
