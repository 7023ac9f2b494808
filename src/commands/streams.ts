// The task-queue core of the Redis Streams commands: XADD (push), XREADGROUP (pop), XACK,
// XNACK, XDEL, XLEN. Parsing follows Redis's argument rules and error texts. Only XREADGROUP
// creates a group; the others answer a group that does not exist as Redis does.
import { READ_COUNT_MAX, type ReadRequest, type ReadResult } from "../queue/engine.ts";
import { syntaxError, UserError } from "./errors.ts";
import { compareIds, formatId, parseAddId, parseId, type StreamId } from "../queue/ids.ts";
import { parseTaskOptions } from "../queue/options.ts";
import { integer, invalidId, lower, streamId, text } from "./args.ts";
import { blockUntilAnswered, parseBlockMs } from "./blocking.ts";
import { requireGroup } from "./pending.ts";
import { writeReadResult } from "./replies.ts";
import { parseAddOrTrimOptions } from "./trimming.ts";
import type { Context } from "./types.ts";


/** XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]] id field value [field value ...] */
export function xadd(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[1]);
  const { rule: trim, noMkStream, next } = parseAddOrTrimOptions(args, 2, "xadd");
  const spec = next < args.length ? parseAddId(text(args[next])) : null;
  if (!spec) throw invalidId();
  const pairs = args.slice(next + 1);
  if (pairs.length === 0 || pairs.length % 2 !== 0) {
    throw new UserError("ERR", "wrong number of arguments for 'xadd' command");
  }
  const { fields, options } = parseTaskOptions(pairs);
  const id = ctx.engine.push(key, spec, fields, { ...options, noMkStream });
  if (id === null) return ctx.session.reply.nil();
  if (trim) ctx.engine.trim(key, trim);
  ctx.session.reply.bulk(formatId(id));
}

export function xreadgroup(ctx: Context, args: Uint8Array[]): void {
  const { session, engine } = ctx;
  let group: string | null = null;
  let consumer = "";
  let count: number | null = null;
  let blockMs: number | null = null;
  let noack = false;
  let streamsAt = -1;
  for (let i = 1; i < args.length && streamsAt < 0; i++) {
    const opt = lower(args[i]);
    const more = args.length - i - 1;
    if (opt === "group" && more >= 2) {
      group = text(args[++i]);
      consumer = text(args[++i]);
    } else if (opt === "count" && more >= 1) {
      count = integer(args[++i]);
      if (count <= 0 || count > READ_COUNT_MAX) count = READ_COUNT_MAX;
    } else if (opt === "block" && more >= 1) blockMs = parseBlockMs(args[++i]);
    else if (opt === "noack") noack = true;
    else if (opt === "streams") streamsAt = i + 1;
    else throw syntaxError();
  }
  if (streamsAt < 0) throw syntaxError();
  if (group === null) throw new UserError("ERR", "Missing GROUP option for XREADGROUP");
  const rest = args.length - streamsAt;
  if (rest === 0 || rest % 2 !== 0) {
    throw new UserError(
      "ERR",
      "Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.",
    );
  }
  const n = rest / 2;
  const keys: string[] = [];
  const ids: (StreamId | null)[] = [];
  for (let k = 0; k < n; k++) {
    keys.push(text(args[streamsAt + k]));
    const idText = text(args[streamsAt + n + k]);
    if (idText === ">") ids.push(null);
    else if (idText === "$") {
      throw new UserError(
        "ERR",
        "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
      );
    } else {
      const id = parseId(idText);
      if (!id) throw invalidId();
      ids.push(id);
    }
  }
  const req: ReadRequest = { keys, group, consumer, count, noack };
  if (ids.some((id) => id !== null)) return readHistory(ctx, req, ids);

  const result = engine.deliverEach(req);
  // A crash returns every in-flight task anyway, so a delivery need not wait for its COMMIT;
  // NOACK deliveries ack as they deliver and wait like any ack.
  if (result.length > 0 && !noack) session.answerBeforeCommit();
  if (result.length > 0 || blockMs === null) return writeReadResult(session.reply, result);
  const ms = blockMs;
  blockUntilAnswered<ReadResult>(ctx, "xreadgroup", (a) => engine.waitForDelivery(req, ms, a.served, a.timeOut, a.gone), writeReadResult);
}

/** Explicit ids: the consumer's own pending tasks, delivering nothing (`>` keys still get deliveries). */
function readHistory(ctx: Context, req: ReadRequest, ids: (StreamId | null)[]): void {
  const result: ReadResult = [];
  req.keys.forEach((key, k) => {
    const after = ids[k];
    const entries = after
      ? ctx.engine.ownPending(key, req.group, req.consumer, after, req.count)
      : ctx.engine.deliver(key, req.group, req.consumer, req.count, req.noack);
    if (after || entries.length > 0) result.push([key, entries]);
  });
  writeReadResult(ctx.session.reply, result);
}

export function xack(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[1]);
  // As Redis 7: a missing key or group acks nothing, answered before the ids are even parsed.
  if (!ctx.engine.hasGroup(key, text(args[2]))) return ctx.session.reply.integer(0);
  const ids = args.slice(3).map((a) => streamId(a));
  ctx.session.reply.integer(ctx.engine.ack(key, ids));
}

export function xnack(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[1]);
  requireGroup(ctx, key, text(args[2]));
  const id = streamId(args[3]);
  let reason: string | null = null;
  if (args.length === 6 && lower(args[4]) === "reason") reason = text(args[5]);
  else if (args.length !== 4) throw syntaxError();
  if (!ctx.engine.nack(key, id, reason)) {
    throw new UserError("ERR", `task ${formatId(id)} is not in flight in '${key}'`);
  }
  ctx.session.reply.simple("OK");
}

export function xdel(ctx: Context, args: Uint8Array[]): void {
  const ids = args.slice(2).map((a) => streamId(a));
  ctx.session.reply.integer(ctx.engine.delete(text(args[1]), ids));
}

/** XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]: Redis's checks, in Redis's order. */
export function xsetid(ctx: Context, args: Uint8Array[]): void {
  const id = parseId(text(args[2]));
  if (!id) throw invalidId();
  let entriesAdded: number | null = null;
  let maxDeleted: StreamId | null = null;
  for (let i = 3; i < args.length; i += 2) {
    const opt = lower(args[i]);
    if (i + 1 >= args.length) throw syntaxError();
    if (opt === "entriesadded") {
      entriesAdded = integer(args[i + 1]);
      if (entriesAdded < 0) throw new UserError("ERR", "entries_added must be positive");
    } else if (opt === "maxdeletedid") {
      maxDeleted = parseId(text(args[i + 1]));
      if (!maxDeleted) throw invalidId();
      if (compareIds(id, maxDeleted) < 0) {
        throw new UserError("ERR", "The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
      }
    } else throw syntaxError();
  }
  ctx.engine.setLastId(text(args[1]), id, entriesAdded, maxDeleted);
  ctx.session.reply.simple("OK");
}

export function xlen(ctx: Context, args: Uint8Array[]): void {
  ctx.session.reply.integer(ctx.engine.length(text(args[1])));
}
