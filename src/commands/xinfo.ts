// XINFO: STREAM (short and FULL), GROUPS, CONSUMERS and HELP, shaped as Redis 7.2 shows them,
// with ezra's per-state counts added after Redis's fields. Groups share the queue's tasks.
import type { Engine } from "../queue/engine.ts";
import { consumerInfos, type GroupInfo, groupInfos } from "../queue/groups.ts";
import { formatId, MAX_ID, MIN_ID } from "../queue/ids.ts";
import { pendingOf } from "../queue/pending.ts";
import { range } from "../queue/reads.ts";
import type { ReplyWriter } from "../resp/encoder.ts";
import { integer, lower, text } from "./args.ts";
import { UserError } from "./errors.ts";
import { help, writeEntry } from "./replies.ts";
import type { Context } from "./types.ts";
import { requireGroup, requireKey } from "./xgroup.ts";

/** XINFO STREAM FULL lists this many entries (and pending entries per group/consumer) by default. */
const FULL_COUNT_DEFAULT = 10;
/** Most entries FULL lists per list; COUNT 0 ("all") and larger counts are capped to it. */
export const FULL_COUNT_MAX = 10_000;

type StreamInfo = NonNullable<ReturnType<Engine["streamInfo"]>>;

const idleSince = (now: number, at: number) => Math.max(0, now - at);

/** XINFO STREAM key [FULL [COUNT n]] */
export function xinfoStream(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[2]);
  if (args.length === 3) return writeStream(ctx, key);
  requireKey(ctx, key);
  const badArgs = () => new UserError("ERR", `unknown subcommand or wrong number of arguments for '${text(args[1])}'. Try XINFO HELP.`);
  if (args.length > 6 || lower(args[3]) !== "full") throw badArgs();
  let count = FULL_COUNT_DEFAULT;
  if (args.length > 4) {
    if (args.length !== 6 || lower(args[4]) !== "count") throw badArgs();
    count = integer(args[5]);
    if (count < 0) count = FULL_COUNT_DEFAULT;
    if (count === 0 || count > FULL_COUNT_MAX) count = FULL_COUNT_MAX;
  }
  writeStreamFull(ctx, key, count);
}

function streamInfoOf(ctx: Context, key: string): StreamInfo {
  const info = ctx.engine.streamInfo(key);
  if (!info) throw new UserError("ERR", "no such key");
  return info;
}

/** The fields XINFO STREAM and XINFO STREAM FULL both open with, in Redis's order. */
function writeStreamHead(reply: ReplyWriter, info: StreamInfo): void {
  const length = info.counts.available + info.counts.in_flight + info.counts.done;
  reply.bulk("length");
  reply.integer(length);
  // ezra has no radix tree: one "key" and "node" per entry keeps the numbers meaningful.
  reply.bulk("radix-tree-keys");
  reply.integer(length);
  reply.bulk("radix-tree-nodes");
  reply.integer(length);
  reply.bulk("last-generated-id");
  reply.bulk(formatId(info.lastId));
  reply.bulk("max-deleted-entry-id");
  reply.bulk(formatId(info.maxDeletedId));
  reply.bulk("entries-added");
  reply.integer(info.entriesAdded);
  reply.bulk("recorded-first-entry-id");
  reply.bulk(info.first ? formatId(info.first.id) : "0-0");
}

/** ezra's own fields (6 pairs), after Redis's in both forms. */
function writeEzraFields(reply: ReplyWriter, info: StreamInfo): void {
  const { counts, settings } = info;
  const ezra: [string, number][] = [
    ["ezra-available", counts.available],
    ["ezra-in-flight", counts.in_flight],
    ["ezra-done", counts.done],
    ["ezra-dead", counts.dead],
    ["ezra-visibility-timeout-ms", settings.visibilityTimeoutMs],
    ["ezra-max-attempts", settings.maxAttempts],
  ];
  for (const [name, value] of ezra) {
    reply.bulk(name);
    reply.integer(value);
  }
}

function writeStream(ctx: Context, key: string): void {
  const info = streamInfoOf(ctx, key);
  const reply = ctx.session.reply;
  reply.map(16);
  writeStreamHead(reply, info);
  reply.bulk("groups");
  reply.integer(info.groups);
  reply.bulk("first-entry");
  if (info.first) writeEntry(reply, info.first);
  else reply.nil();
  reply.bulk("last-entry");
  if (info.last) writeEntry(reply, info.last);
  else reply.nil();
  writeEzraFields(reply, info);
}

function writeStreamFull(ctx: Context, key: string, count: number): void {
  const { engine } = ctx;
  const info = streamInfoOf(ctx, key);
  const reply = ctx.session.reply;
  reply.map(15);
  writeStreamHead(reply, info);
  reply.bulk("entries");
  const entries = range(engine, key, MIN_ID, MAX_ID, count, false);
  reply.array(entries.length);
  for (const entry of entries) writeEntry(reply, entry);
  reply.bulk("groups");
  const groups = groupInfos(engine, key);
  reply.array(groups.length);
  for (const g of groups) writeGroupFull(ctx, key, g, count);
  writeEzraFields(reply, info);
}

function writeGroupFull(ctx: Context, key: string, g: GroupInfo, count: number): void {
  const { engine } = ctx;
  const reply = ctx.session.reply;
  reply.map(7);
  reply.bulk("name");
  reply.bulk(g.name);
  writeProgress(reply, g);
  reply.bulk("pel-count");
  reply.integer(g.pending);
  reply.bulk("pending");
  const pending = pendingOf(engine, key, g.name, null, count);
  reply.array(pending.length);
  for (const p of pending) {
    reply.array(4);
    reply.bulk(formatId(p.id));
    reply.bulk(p.consumer);
    reply.integer(p.deliveredAt);
    reply.integer(p.deliveries);
  }
  reply.bulk("consumers");
  const consumers = consumerInfos(engine, key, g.name);
  reply.array(consumers.length);
  for (const c of consumers) {
    reply.map(5);
    reply.bulk("name");
    reply.bulk(c.name);
    reply.bulk("seen-time");
    reply.integer(c.seenAt);
    reply.bulk("active-time");
    reply.integer(c.activeAt ?? -1);
    reply.bulk("pel-count");
    reply.integer(c.pending);
    reply.bulk("pending");
    const own = c.pending === 0 ? [] : pendingOf(engine, key, g.name, c.name, count);
    reply.array(own.length);
    for (const p of own) {
      reply.array(3);
      reply.bulk(formatId(p.id));
      reply.integer(p.deliveredAt);
      reply.integer(p.deliveries);
    }
  }
}

export function xinfoGroups(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[2]);
  requireKey(ctx, key);
  const groups = groupInfos(ctx.engine, key);
  const reply = ctx.session.reply;
  reply.array(groups.length);
  for (const g of groups) {
    reply.map(6);
    reply.bulk("name");
    reply.bulk(g.name);
    reply.bulk("consumers");
    reply.integer(g.consumers);
    reply.bulk("pending");
    reply.integer(g.pending);
    writeProgress(reply, g);
  }
}

/** last-delivered-id, entries-read and lag: shared by every group of a queue. */
function writeProgress(reply: ReplyWriter, g: GroupInfo): void {
  reply.bulk("last-delivered-id");
  reply.bulk(formatId(g.lastDeliveredId));
  reply.bulk("entries-read");
  if (g.entriesRead === null) reply.nil();
  else reply.integer(g.entriesRead);
  reply.bulk("lag");
  if (g.lag === null) reply.nil();
  else reply.integer(g.lag);
}

export function xinfoConsumers(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[2]);
  const group = text(args[3]);
  requireKey(ctx, key);
  requireGroup(ctx, key, group);
  const now = ctx.engine.now();
  const consumers = consumerInfos(ctx.engine, key, group);
  const reply = ctx.session.reply;
  reply.array(consumers.length);
  for (const c of consumers) {
    reply.map(4);
    reply.bulk("name");
    reply.bulk(c.name);
    reply.bulk("pending");
    reply.integer(c.pending);
    reply.bulk("idle"); // since the consumer's last command (Redis 7.2)
    reply.integer(idleSince(now, c.seenAt));
    reply.bulk("inactive"); // since it last got a task; -1: never
    reply.integer(c.activeAt === null ? -1 : idleSince(now, c.activeAt));
  }
}

export const xinfoHelp = help([
  "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "CONSUMERS <key> <groupname>",
  "    Show consumers of <groupname>.",
  "GROUPS <key>",
  "    Show the stream consumer groups.",
  "STREAM <key> [FULL [COUNT <count>]",
  "    Show information about the stream, with ezra's counts per task state.",
  "HELP",
  "    Print this help.",
]);
