// XPENDING, XCLAIM and XAUTOCLAIM: a group's in-flight tasks, and taking them over (or keeping
// a lease alive). Parsing, argument order and error texts follow Redis 7.
import { pendingEntries, pendingSummary } from "../queue/pending.ts";
import { autoTakeOver, takeOver, type TakeoverOptions } from "../queue/takeover.ts";
import { syntaxError, UserError } from "./errors.ts";
import { formatId, parseId, type StreamId } from "../queue/ids.ts";
import { integer, intervalBound, invalidId, lower, text } from "./args.ts";
import { writeEntry } from "./replies.ts";
import type { Context } from "./types.ts";

/** Most entries one extended XPENDING lists; page on with `(lastid`. */
export const PENDING_ENTRIES_MAX = 10_000;
/** Most tasks one XAUTOCLAIM claims; a larger COUNT is capped to it (the cursor pages on). */
export const AUTOCLAIM_COUNT_MAX = 10_000;
const AUTOCLAIM_COUNT_DEFAULT = 100;

/** Redis's NOGROUP for XPENDING/XCLAIM/XAUTOCLAIM (and XNACK): a missing key reads as a missing group. */
export function requireGroup(ctx: Context, key: string, group: string): void {
  if (!ctx.engine.hasGroup(key, group)) throw new UserError("NOGROUP", `No such key '${key}' or consumer group '${group}'`);
}

/** An integer option argument, failing with the command's own message. */
function integerOr(arg: Uint8Array, message: string): number {
  try {
    return integer(arg);
  } catch {
    throw new UserError("ERR", message);
  }
}

/** XPENDING key group [[IDLE min-idle] start end count [consumer]] */
export function xpending(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[1]);
  const group = text(args[2]);
  if (args.length !== 3 && (args.length < 6 || args.length > 9)) throw syntaxError();
  const reply = ctx.session.reply;
  if (args.length === 3) {
    requireGroup(ctx, key, group);
    const summary = pendingSummary(ctx.engine, key, group);
    reply.array(4);
    reply.integer(summary.count);
    if (summary.count === 0) {
      reply.nil();
      reply.nil();
      return reply.nilArray();
    }
    reply.bulk(formatId(summary.first as StreamId));
    reply.bulk(formatId(summary.last as StreamId));
    reply.array(summary.consumers.length);
    for (const c of summary.consumers) {
      reply.array(2);
      reply.bulk(c.name);
      reply.bulk(String(c.count)); // Redis sends this count as a bulk string
    }
    return;
  }
  let at = 3;
  let minIdleMs = 0;
  if (lower(args[3]) === "idle") {
    minIdleMs = integer(args[4]);
    if (args.length < 8) throw syntaxError();
    at += 2;
  }
  const count = Math.min(Math.max(0, integer(args[at + 2])), PENDING_ENTRIES_MAX);
  const start = intervalBound(args[at], true);
  const end = intervalBound(args[at + 1], false);
  // As in Redis, an argument after the consumer (without IDLE) is ignored.
  const consumer = at + 3 < args.length ? text(args[at + 3]) : null;
  requireGroup(ctx, key, group);
  const entries = pendingEntries(ctx.engine, key, group, { start, end, count, minIdleMs, consumer });
  reply.array(entries.length);
  for (const e of entries) {
    reply.array(4);
    reply.bulk(formatId(e.id));
    reply.bulk(e.consumer);
    reply.integer(e.idleMs);
    reply.integer(e.deliveries);
  }
}

/** XCLAIM key group consumer min-idle-time id... [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id] */
export function xclaim(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[1]);
  const group = text(args[2]);
  const consumer = text(args[3]);
  requireGroup(ctx, key, group);
  const minIdleMs = integerOr(args[4], "Invalid min-idle-time argument for XCLAIM");
  const ids: StreamId[] = [];
  let i = 5;
  for (; i < args.length; i++) {
    const id = parseId(text(args[i]));
    if (!id) break; // the first argument that is not an id starts the options
    ids.push(id);
  }
  const options: TakeoverOptions = { minIdleMs, idleMs: null, timeMs: null, retryCount: null, force: false, justId: false };
  for (; i < args.length; i++) {
    const opt = lower(args[i]);
    const more = i + 1 < args.length;
    if (opt === "force") options.force = true;
    else if (opt === "justid") options.justId = true;
    else if (opt === "idle" && more) options.idleMs = integerOr(args[++i], "Invalid IDLE option argument for XCLAIM");
    else if (opt === "time" && more) options.timeMs = integerOr(args[++i], "Invalid TIME option argument for XCLAIM");
    else if (opt === "retrycount" && more) {
      options.retryCount = integerOr(args[++i], "Invalid RETRYCOUNT option argument for XCLAIM");
      // Redis takes a negative count; ezra's delivery count is attempts, which cannot be negative.
      if (options.retryCount < 0) throw new UserError("ERR", "Invalid RETRYCOUNT option argument for XCLAIM");
    } else if (opt === "lastid" && more) {
      // Validated and ignored: groups share the queue, there is no per-group position to move.
      if (!parseId(text(args[++i]))) throw invalidId();
    } else throw new UserError("ERR", `Unrecognized XCLAIM option '${text(args[i])}'`);
  }
  const entries = takeOver(ctx.engine, key, group, consumer, ids, options);
  const reply = ctx.session.reply;
  reply.array(entries.length);
  for (const entry of entries) {
    if (options.justId) reply.bulk(formatId(entry.id));
    else writeEntry(reply, entry);
  }
}

/** XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID] */
export function xautoclaim(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[1]);
  const group = text(args[2]);
  const consumer = text(args[3]);
  const minIdleMs = integerOr(args[4], "Invalid min-idle-time argument for XAUTOCLAIM");
  const start = intervalBound(args[5], true);
  let count = AUTOCLAIM_COUNT_DEFAULT;
  let justId = false;
  for (let i = 6; i < args.length; i++) {
    const opt = lower(args[i]);
    if (opt === "count" && i + 1 < args.length) {
      count = integerOr(args[++i], "COUNT must be > 0");
      if (count < 1) throw new UserError("ERR", "COUNT must be > 0");
      count = Math.min(count, AUTOCLAIM_COUNT_MAX);
    } else if (opt === "justid") justId = true;
    else throw syntaxError();
  }
  requireGroup(ctx, key, group);
  const result = autoTakeOver(ctx.engine, key, group, consumer, minIdleMs, start, count, justId);
  const reply = ctx.session.reply;
  reply.array(3);
  reply.bulk(formatId(result.next));
  reply.array(result.entries.length);
  for (const entry of result.entries) {
    if (justId) reply.bulk(formatId(entry.id));
    else writeEntry(reply, entry);
  }
  reply.array(result.deleted.length);
  for (const id of result.deleted) reply.bulk(formatId(id));
}
