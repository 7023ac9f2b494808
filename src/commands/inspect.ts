// XINFO GROUPS / CONSUMERS / STREAM FULL and XGROUP DESTROY / CREATECONSUMER / DELCONSUMER /
// SETID: groups and consumers as Redis 7.2 shows them, over tasks that groups share.
import { pendingOf } from "../queue/claims.ts";
import { consumerInfos, createConsumer, deleteConsumer, destroyGroup, type GroupInfo, groupInfos } from "../queue/consumers.ts";
import { UserError } from "./errors.ts";
import { formatId, MAX_ID, MIN_ID, parseId } from "../queue/ids.ts";
import { range } from "../queue/reads.ts";
import type { ReplyWriter } from "../resp/encoder.ts";
import { integer, invalidId, lower, text } from "./args.ts";
import { writeStreamHead, xinfoStream } from "./groups.ts";
import { writeEntry } from "./replies.ts";
import type { Context } from "./types.ts";

/** XINFO STREAM FULL lists this many entries (and pending entries per group/consumer) by default. */
const FULL_COUNT_DEFAULT = 10;
/** Most entries FULL lists per list; COUNT 0 ("all") and larger counts are capped to it. */
export const FULL_COUNT_MAX = 10_000;

const XGROUP_NO_KEY =
  "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

export const XGROUP_SETID_REFUSED =
  "XGROUP SETID is not supported: ezra's consumer groups share the queue's tasks and have no position of their own to set (no task is skipped or delivered again)";

function requireKey(ctx: Context, key: string, message = "no such key"): void {
  if (!ctx.engine.exists(key)) throw new UserError("ERR", message);
}

/** NOGROUP as XINFO CONSUMERS and XGROUP word it. */
function requireGroup(ctx: Context, key: string, group: string): void {
  if (!ctx.engine.hasGroup(key, group)) throw new UserError("NOGROUP", `No such consumer group '${group}' for key name '${key}'`);
}

const idleSince = (now: number, at: number) => Math.max(0, now - at);

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
    reply.bulk("inactive"); // since its last successful claim; -1: never
    reply.integer(c.activeAt === null ? -1 : idleSince(now, c.activeAt));
  }
}

/** XINFO STREAM key [FULL [COUNT n]]: the short form is groups.ts's xinfoStream. */
export function xinfoStreamAny(ctx: Context, args: Uint8Array[]): void {
  if (args.length === 3) return xinfoStream(ctx, args);
  const key = text(args[2]);
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

function writeStreamFull(ctx: Context, key: string, count: number): void {
  const { engine } = ctx;
  const info = engine.streamInfo(key);
  if (!info) throw new UserError("ERR", "no such key");
  const reply = ctx.session.reply;
  const { counts, settings } = info;
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
  // ezra's own fields, after Redis's, as in the short form.
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

export function xgroupDestroy(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[2]);
  requireKey(ctx, key, XGROUP_NO_KEY);
  ctx.session.reply.integer(destroyGroup(ctx.engine, key, text(args[3])) ? 1 : 0);
}

export function xgroupCreateConsumer(ctx: Context, args: Uint8Array[]): void {
  const [key, group] = keyAndGroup(ctx, args);
  ctx.session.reply.integer(createConsumer(ctx.engine, key, group, text(args[4])) ? 1 : 0);
}

export function xgroupDelConsumer(ctx: Context, args: Uint8Array[]): void {
  const [key, group] = keyAndGroup(ctx, args);
  ctx.session.reply.integer(deleteConsumer(ctx.engine, key, group, text(args[4])));
}

/**
 * XGROUP SETID key group <id|$> [ENTRIESREAD n]: validated as Redis does, then refused. A group
 * has no position of its own (groups share the queue's tasks): moving it back would have to
 * redeliver acked work, moving it forward would drop waiting tasks, for every group at once.
 */
export function xgroupSetId(ctx: Context, args: Uint8Array[]): void {
  // Redis checks the options before the key and the group, and the id after them.
  for (let i = 5; i < args.length; i++) {
    if (lower(args[i]) !== "entriesread" || i + 1 >= args.length) {
      throw new UserError("ERR", `unknown subcommand or wrong number of arguments for '${text(args[1])}'. Try XGROUP HELP.`);
    }
    if (integer(args[++i]) < -1) throw new UserError("ERR", "value for ENTRIESREAD must be positive or -1");
  }
  keyAndGroup(ctx, args);
  const id = text(args[4]);
  if (id !== "$" && !parseId(id)) throw invalidId();
  throw new UserError("ERR", XGROUP_SETID_REFUSED);
}

function keyAndGroup(ctx: Context, args: Uint8Array[]): [string, string] {
  const key = text(args[2]);
  const group = text(args[3]);
  requireKey(ctx, key, XGROUP_NO_KEY);
  requireGroup(ctx, key, group);
  return [key, group];
}
