// Reading entries without delivering them (XRANGE, XREVRANGE, XREAD) and trimming (XTRIM).
// Entries are shown in every state the key holds; parsing and errors follow Redis 7.
import type { ReadResult } from "../queue/engine.ts";
import { syntaxError, UserError } from "./errors.ts";
import { compareIds, parseId, type StreamId } from "../queue/ids.ts";
import { lastEntryId, range, readAfter, waitForEntries } from "../queue/reads.ts";
import { integer, intervalBound, invalidId, lower, text } from "./args.ts";
import { blockUntilAnswered, parseBlockMs } from "./blocking.ts";
import { writeEntries, writeReadResult } from "./replies.ts";
import { parseAddOrTrimOptions } from "./trimming.ts";
import type { Context } from "./types.ts";

/** Most entries one XRANGE/XREVRANGE returns, and XREAD per stream; page with `(lastid`. */
export const RANGE_ENTRIES_MAX = 10_000;

/** XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n]. */
function rangeCommand(ctx: Context, args: Uint8Array[], reverse: boolean): void {
  const key = text(args[1]);
  const start = intervalBound(reverse ? args[3] : args[2], true);
  const end = intervalBound(reverse ? args[2] : args[3], false);
  let count = RANGE_ENTRIES_MAX;
  for (let i = 4; i < args.length; i++) {
    if (lower(args[i]) !== "count" || i + 1 >= args.length) throw syntaxError();
    count = Math.min(integer(args[++i]), RANGE_ENTRIES_MAX);
  }
  // Redis 7 answers COUNT 0 (or negative) with a null array, not an empty one.
  if (count <= 0) return ctx.session.reply.nilArray();
  const entries = compareIds(start, end) > 0 ? [] : range(ctx.engine, key, start, end, count, reverse);
  writeEntries(ctx.session.reply, entries);
}

export const xrange = (ctx: Context, args: Uint8Array[]) => rangeCommand(ctx, args, false);
export const xrevrange = (ctx: Context, args: Uint8Array[]) => rangeCommand(ctx, args, true);

/** XREAD [COUNT n] [BLOCK ms] STREAMS key... id...: entries after each id, delivering nothing. */
export function xread(ctx: Context, args: Uint8Array[]): void {
  const { engine, session } = ctx;
  let count = RANGE_ENTRIES_MAX;
  let timeoutMs: number | null = null;
  let streamsAt = -1;
  for (let i = 1; i < args.length && streamsAt < 0; i++) {
    const opt = lower(args[i]);
    const more = args.length - i - 1;
    if (opt === "count" && more >= 1) {
      const n = integer(args[++i]);
      // COUNT 0 or negative means "no count" in Redis; ezra still caps the reply.
      count = n <= 0 ? RANGE_ENTRIES_MAX : Math.min(n, RANGE_ENTRIES_MAX);
    } else if (opt === "block" && more >= 1) timeoutMs = parseBlockMs(args[++i]);
    else if (opt === "streams") streamsAt = i + 1;
    else throw syntaxError();
  }
  if (streamsAt < 0) throw syntaxError();
  const rest = args.length - streamsAt;
  if (rest === 0 || rest % 2 !== 0) {
    // Redis 7.2's wording (ezra reports 7.2); 7.0 said "Unbalanced XREAD list of streams: ...".
    throw new UserError("ERR", "Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.");
  }
  const n = rest / 2;
  const keys: string[] = [];
  const afters: StreamId[] = [];
  for (let k = 0; k < n; k++) {
    const key = text(args[streamsAt + k]);
    const idText = text(args[streamsAt + n + k]);
    let after: StreamId | null;
    if (idText === "$") after = lastEntryId(engine, key);
    else if (idText === ">") {
      throw new UserError("ERR", "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
    } else after = parseId(idText);
    if (!after) throw invalidId();
    keys.push(key);
    afters.push(after);
  }
  const result: ReadResult = [];
  keys.forEach((key, k) => {
    const entries = readAfter(engine, key, afters[k], count);
    if (entries.length > 0) result.push([key, entries]);
  });
  if (result.length > 0 || timeoutMs === null) return writeReadResult(session.reply, result);
  const ms = timeoutMs;
  blockUntilAnswered<ReadResult>(ctx, "xread", (a) => waitForEntries(engine, keys, afters, count, ms, a.served, a.timeOut), writeReadResult);
}

/** XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]: options in any order, as Redis parses them. */
export function xtrim(ctx: Context, args: Uint8Array[]): void {
  const { rule } = parseAddOrTrimOptions(args, 2, "xtrim");
  // A strategy is required for XTRIM: the parser refuses XTRIM without one.
  ctx.session.reply.integer(rule ? ctx.engine.trim(text(args[1]), rule) : 0);
}
