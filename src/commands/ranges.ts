// Reading entries without claiming them (XRANGE, XREVRANGE, XREAD) and trimming (XTRIM).
// Entries are shown in every state the key holds; parsing and errors follow Redis 7.
import type { ReadResult, TrimRule } from "../queue/engine.ts";
import { syntaxError, UserError } from "./errors.ts";
import { compareIds, parseId, parseRangeBound, type StreamId } from "../queue/ids.ts";
import { lastEntryId, range, readAfter, watch } from "../queue/reads.ts";
import { integer, invalidId, lower, text } from "./args.ts";
import { writeEntries, writeReadResult } from "./replies.ts";
import type { Context } from "./types.ts";

/** Most entries one XRANGE/XREVRANGE returns, and XREAD per stream; page with `(lastid`. */
export const RANGE_ENTRIES_MAX = 10_000;
/** Longest BLOCK a timer can hold (setTimeout's limit, about 24.8 days); longer waits are capped. */
export const BLOCK_MS_MAX = 2 ** 31 - 1;

function bound(arg: Uint8Array, isStart: boolean): StreamId {
  const s = text(arg);
  const id = parseRangeBound(s, isStart);
  if (id) return id;
  // A valid id that cannot be made exclusive (the very first or last possible id).
  if (s.startsWith("(") && parseId(s.slice(1))) {
    throw new UserError("ERR", `invalid ${isStart ? "start" : "end"} ID for the interval`);
  }
  throw invalidId();
}

/** XRANGE key start end [COUNT n] / XREVRANGE key end start [COUNT n]. */
function rangeCommand(ctx: Context, args: Uint8Array[], reverse: boolean): void {
  const key = text(args[1]);
  const start = bound(reverse ? args[3] : args[2], true);
  const end = bound(reverse ? args[2] : args[3], false);
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

/** BLOCK's argument in milliseconds, with Redis's errors. */
export function blockMs(arg: Uint8Array): number {
  const t = text(arg);
  if (!/^-?\d{1,16}$/.test(t)) throw new UserError("ERR", "timeout is not an integer or out of range");
  const ms = Number(t);
  if (ms < 0) throw new UserError("ERR", "timeout is negative");
  return Math.min(ms, BLOCK_MS_MAX);
}

/** XREAD [COUNT n] [BLOCK ms] STREAMS key... id...: entries after each id, claiming nothing. */
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
    } else if (opt === "block" && more >= 1) timeoutMs = blockMs(args[++i]);
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
  // Inside EXEC nothing blocks: an empty read answers as its timeout would, as in Redis.
  if (result.length > 0 || timeoutMs === null || ctx.inExec) return writeReadResult(session.reply, result);
  const timeOut = () => session.resume((reply) => reply.nilArray());
  const waiter = watch(engine, keys, afters, count, timeoutMs, (served) => session.resume((reply) => writeReadResult(reply, served)), timeOut);
  session.suspend({ cancel: () => engine.unblock(waiter), timeOut });
}

/** XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]: options in any order, as Redis parses them. */
export function xtrim(ctx: Context, args: Uint8Array[]): void {
  let rule: TrimRule | null = null;
  let approximate = false;
  let limit: number | null = null;
  for (let i = 2; i < args.length; i++) {
    const opt = lower(args[i]);
    const more = args.length - i - 1;
    if ((opt === "maxlen" || opt === "minid") && more >= 1) {
      if (rule) throw new UserError("ERR", "syntax error, MAXLEN and MINID options at the same time are not compatible");
      const mode = text(args[i + 1]);
      if ((mode === "=" || mode === "~") && more >= 2) {
        approximate = mode === "~";
        i++;
      }
      const threshold = args[++i];
      if (opt === "maxlen") {
        const maxLength = integer(threshold);
        if (maxLength < 0) throw new UserError("ERR", "The MAXLEN argument must be >= 0.");
        rule = { kind: "maxlen", maxLength, limit: null };
      } else {
        const minId = parseId(text(threshold));
        if (!minId) throw invalidId();
        rule = { kind: "minid", minId, limit: null };
      }
    } else if (opt === "limit" && more >= 1) {
      limit = integer(args[++i]);
      if (limit < 0) throw new UserError("ERR", "The LIMIT argument must be >= 0.");
    } else throw syntaxError();
  }
  if (!rule) throw new UserError("ERR", "syntax error, LIMIT cannot be used without specifying a trimming strategy");
  if (limit !== null && !approximate) {
    throw new UserError("ERR", "syntax error, LIMIT cannot be used without the special ~ option");
  }
  // ezra always trims exactly (`~` acts as `=`, which Redis allows); LIMIT 0 means no limit, as in Redis.
  rule.limit = limit === 0 ? null : limit;
  ctx.session.reply.integer(ctx.engine.trim(text(args[1]), rule));
}
