// The command table: one entry per command (and subcommand) with Redis's arity convention.
// Adding a command is adding a row here; the router does lookup, arity and auth checks.
import { commandHandlers, ezraConfigGet, ezraConfigReset, ezraConfigSet, info } from "./admin.ts";
import * as conn from "./connection.ts";
import { help } from "./replies.ts";
import * as xgroup from "./xgroup.ts";
import * as xinfo from "./xinfo.ts";
import { xautoclaim, xclaim, xpending } from "./pending.ts";
import { xack, xadd, xdel, xlen, xnack, xreadgroup, xsetid } from "./streams.ts";
import * as keyspace from "./keyspace.ts";
import * as lists from "./lists.ts";
import * as serverCommands from "./server.ts";
import * as tx from "./transactions.ts";
import { xrange, xread, xrevrange, xtrim } from "./ranges.ts";
import type { CommandFlag, CommandSpec, Context } from "./types.ts";

const cmd = (
  name: string,
  arity: number,
  flags: CommandFlag[],
  summary: string,
  run: CommandSpec["run"],
  subcommands?: CommandSpec[],
): CommandSpec => ({ name, arity, flags, summary, run, subcommands });

/** A command that only groups subcommands; the router never runs it. */
const container = (name: string, flags: CommandFlag[], summary: string, subcommands: CommandSpec[]) =>
  ({ ...cmd(name, -2, flags, summary, () => {}, subcommands), container: true });

const commandIntrospection = commandHandlers(() => TABLE);

const SPECS: CommandSpec[] = [
  // streams: the task queue
  cmd("xadd", -5, ["write"], "Push a task (append an entry to a queue).", xadd),
  cmd("xreadgroup", -7, ["write", "blocking"], "Pop tasks: claim available tasks, or re-read own pending ones.", xreadgroup),
  cmd("xack", -4, ["write"], "Acknowledge in-flight tasks as done.", xack),
  cmd("xnack", -4, ["write"], "Give an in-flight task back (retry or dead letter), with an optional reason.", xnack),
  cmd("xdel", -3, ["write"], "Delete tasks; an in-flight task is nacked instead.", xdel),
  cmd("xsetid", -3, ["write"], "Set a queue's last id (and entries-added, max-deleted-entry-id): later ids are greater.", xsetid),
  cmd("xlen", 2, ["readonly"], "Count the tasks waiting in a queue (dead tasks on <queue>::dead).", xlen),
  cmd("xpending", -3, ["readonly"], "List a group's in-flight tasks: consumer, idle time, delivery count.", xpending),
  cmd("xclaim", -6, ["write"], "Take over in-flight tasks idle long enough, or renew your own lease (heartbeat).", xclaim),
  cmd("xautoclaim", -6, ["write"], "Take over a group's tasks idle long enough, scanning with a cursor.", xautoclaim),
  cmd("xrange", -4, ["readonly"], "Read entries in an id range, oldest first, claiming nothing.", xrange),
  cmd("xrevrange", -4, ["readonly"], "Read entries in an id range, newest first, claiming nothing.", xrevrange),
  cmd("xread", -4, ["readonly", "blocking"], "Read entries after an id (or wait for new ones), claiming nothing.", xread),
  cmd("xtrim", -4, ["write"], "Delete the oldest entries of a queue (MAXLEN/MINID), whatever their state.", xtrim),
  // keyspace: a key is a queue, or a <queue>::dead view that holds tasks
  cmd("del", -2, ["write"], "Delete queues with all their tasks, groups and settings.", keyspace.del),
  cmd("unlink", -2, ["write"], "Same as DEL.", keyspace.del),
  cmd("exists", -2, ["readonly"], "Count how many of the given keys exist.", keyspace.exists),
  cmd("type", 2, ["readonly"], "The type of a key: stream, or none.", keyspace.type),
  cmd("scan", -2, ["readonly"], "Iterate over queue names (MATCH, COUNT, TYPE).", keyspace.scan),
  cmd("keys", 2, ["readonly"], "Queue names matching a glob pattern.", keyspace.keys),
  cmd("dbsize", 1, ["readonly"], "Number of keys (queues and non-empty dead views).", keyspace.dbsize),
  // lists on the same queues: push appends, pop takes the oldest and acks it at once (at-most-once)
  cmd("lpush", -3, ["write"], "Push tasks with one field 'value' (same as RPUSH: a queue is FIFO).", lists.push),
  cmd("rpush", -3, ["write"], "Push tasks with one field 'value'.", lists.push),
  cmd("lpop", -2, ["write"], "Take the oldest tasks and ack them at once (at-most-once).", lists.pop),
  cmd("rpop", -2, ["write"], "Same as LPOP: takes the oldest tasks (a queue is FIFO).", lists.pop),
  cmd("blpop", -3, ["write", "blocking"], "LPOP that waits for a task on any of the keys.", lists.blockingPop),
  cmd("brpop", -3, ["write", "blocking"], "Same as BLPOP.", lists.blockingPop),
  cmd("llen", 2, ["readonly"], "Same as XLEN: tasks waiting.", lists.llen),
  container("xgroup", ["write"], "Consumer group commands.", [
    cmd("create", -5, ["write"], "Record a consumer group (groups share all tasks).", xgroup.xgroupCreate),
    cmd("destroy", 4, ["write"], "Remove a group and its consumers; its in-flight tasks stay in flight.", xgroup.xgroupDestroy),
    cmd("createconsumer", 5, ["write"], "Record a consumer in a group.", xgroup.xgroupCreateConsumer),
    cmd("delconsumer", 5, ["write"], "Remove a consumer; its in-flight tasks become available again.", xgroup.xgroupDelConsumer),
    cmd("setid", -5, ["write"], "Refused after Redis's checks: groups share all tasks, there is no position to set.", xgroup.xgroupSetId),
    cmd("help", 2, [], "Show XGROUP help.", xgroup.xgroupHelp),
  ]),
  container("xinfo", ["readonly"], "Stream introspection.", [
    cmd("stream", -3, ["readonly"], "Show a queue's stream info and ezra's per-state counts (FULL: entries, groups, consumers).", xinfo.xinfoStream),
    cmd("groups", 3, ["readonly"], "Show a queue's consumer groups.", xinfo.xinfoGroups),
    cmd("consumers", 4, ["readonly"], "Show a group's consumers.", xinfo.xinfoConsumers),
    cmd("help", 2, [], "Show XINFO help.", xinfo.xinfoHelp),
  ]),
  // connection
  cmd("hello", -1, ["noauth", "connection"], "Handshake: pick RESP2/RESP3, authenticate, name the client.", conn.hello),
  cmd("auth", -2, ["noauth", "connection"], "Authenticate with the server password.", conn.auth),
  cmd("quit", -1, ["noauth", "connection"], "Close the connection.", conn.quit),
  cmd("ping", -1, ["connection"], "Ping the server.", conn.ping),
  cmd("echo", 2, ["connection"], "Echo the argument.", conn.echo),
  cmd("reset", 1, ["connection"], "Reset the connection state.", conn.reset),
  cmd("select", 2, ["connection"], "Select database 0 (the only one).", conn.select),
  container("client", ["connection"], "Client connection commands.", [
    cmd("setname", 3, ["connection"], "Name this connection.", conn.clientSetName),
    cmd("getname", 2, ["connection"], "This connection's name.", conn.clientGetName),
    cmd("id", 2, ["connection"], "This connection's id.", conn.clientId),
    cmd("setinfo", 4, ["connection"], "Record the client library's name and version.", conn.clientSetInfo),
    cmd("no-evict", 3, ["connection"], "Accepted for compatibility; ezra evicts nothing.", conn.clientOnOff),
    cmd("no-touch", 3, ["connection"], "Accepted for compatibility.", conn.clientOnOff),
    cmd("info", 2, ["connection"], "Describe this connection.", conn.clientInfo),
    cmd("list", -2, ["admin"], "Describe every connection.", conn.clientList),
    cmd("kill", -3, ["admin"], "Close connections: CLIENT KILL addr:port, or by ID, ADDR, LADDR, USER, TYPE, SKIPME.", conn.clientKill),
    cmd("unblock", -3, ["admin"], "End another client's blocked read, as its timeout would (TIMEOUT) or with an error (ERROR).", conn.clientUnblock),
  ]),
  // transactions: one EXEC is one storage transaction
  cmd("multi", 1, ["connection"], "Start a transaction: later commands are queued until EXEC.", tx.multi),
  cmd("exec", 1, ["connection"], "Run the queued commands in one storage transaction (all or nothing).", tx.exec),
  cmd("discard", 1, ["connection"], "Drop the queued commands and leave the transaction.", tx.discard),
  cmd("watch", -2, ["connection"], "Make the next EXEC fail (null) if any of these queues changes first.", tx.watch),
  cmd("unwatch", 1, ["connection"], "Forget every watched queue.", tx.unwatch),
  // server
  cmd("info", -1, ["admin"], "Server information, Redis-shaped, with ezra's fields.", info),
  cmd("time", 1, ["connection"], "The server's clock: unix seconds and microseconds.", serverCommands.time),
  cmd("wait", 3, ["connection"], "Wait for replicas: ezra has none, so 0 at once.", serverCommands.wait),
  container("config", ["admin"], "Server settings, under Redis's names.", [
    cmd("get", -3, ["admin"], "Settings matching glob patterns, with ezra's values.", serverCommands.configGet),
    cmd("set", -4, ["admin"], "Not supported: settings are fixed at start (flags, EZRA_* variables).", serverCommands.configSet),
    cmd("help", 2, [], "Show CONFIG help.", serverCommands.configHelp),
  ]),
  cmd("command", -1, ["connection"], "Command introspection.", (ctx) => commandIntrospection.all(ctx), [
    cmd("count", 2, ["connection"], "Number of commands.", commandIntrospection.count),
    cmd("list", -2, ["connection"], "Names of all commands.", commandIntrospection.list),
    cmd("info", -2, ["connection"], "Details of commands.", commandIntrospection.info),
    cmd("docs", -2, ["connection"], "Documentation of commands.", commandIntrospection.docs),
  ]),
  container("ezra", ["admin"], "ezra's own commands.", [
    container("config", ["admin"], "Per-queue settings.", [
      cmd("get", 4, ["readonly"], "EZRA CONFIG GET <queue>: the queue's settings.", ezraConfigGet),
      cmd("set", -6, ["write"], "EZRA CONFIG SET <queue> <name> <value> [...]: change settings.", ezraConfigSet),
      cmd("reset", -4, ["write"], "EZRA CONFIG RESET <queue> [name ...]: back to server defaults.", ezraConfigReset),
    ]),
    cmd("help", 2, [], "Show EZRA help.", (ctx: Context) => ezraHelp(ctx)),
  ]),
];

const ezraHelp = help([
  "EZRA <subcommand> [<arg> ...]. Subcommands are:",
  "CONFIG GET <queue>",
  "    The queue's settings (visibility_timeout and retention in seconds, max_attempts, entry_fields).",
  "CONFIG SET <queue> <name> <value> [<name> <value> ...]",
  "    Change settings at run time; they are persisted. Creates the queue if needed.",
  "CONFIG RESET <queue> [<name> ...]",
  "    Revert settings to the server-wide defaults.",
  "HELP",
  "    Print this help.",
]);

export const TABLE: Map<string, CommandSpec> = new Map(SPECS.map((s) => [s.name, s]));
