// Keyspace commands that tools use to discover queues: DEL/UNLINK, EXISTS, TYPE, SCAN, KEYS,
// DBSIZE. Every key is a queue (type `stream`), or a `<queue>::dead` view that holds tasks.
import { syntaxError, UserError } from "./errors.ts";
import type { KeySlot } from "../queue/keyspace.ts";
import { integer, lower, text } from "./args.ts";
import { globMatch } from "./glob.ts";
import type { Context } from "./types.ts";

/** SCAN's COUNT when none is given (Redis's default). */
const SCAN_COUNT_DEFAULT = 10;

export function del(ctx: Context, args: Uint8Array[]): void {
  let deleted = 0;
  for (const arg of args.slice(1)) if (ctx.engine.keyspace.delete(text(arg))) deleted++;
  ctx.session.reply.integer(deleted);
}

export function exists(ctx: Context, args: Uint8Array[]): void {
  let found = 0;
  // Redis counts a key once per mention: EXISTS q q answers 2.
  for (const arg of args.slice(1)) if (ctx.engine.keyspace.exists(text(arg))) found++;
  ctx.session.reply.integer(found);
}

export function type(ctx: Context, args: Uint8Array[]): void {
  ctx.session.reply.simple(ctx.engine.keyspace.exists(text(args[1])) ? "stream" : "none");
}

export function dbsize(ctx: Context): void {
  ctx.session.reply.integer(ctx.engine.keyspace.names().length);
}

export function keys(ctx: Context, args: Uint8Array[]): void {
  const pattern = text(args[1]);
  const names = ctx.engine.keyspace.names().filter((name) => globMatch(pattern, name)).sort();
  const reply = ctx.session.reply;
  reply.array(names.length);
  for (const name of names) reply.bulk(name);
}

/**
 * SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]. Keys are ordered by a 32-bit hash of
 * their name and the cursor is the hash to resume from, so keys created or deleted between
 * calls shift nothing: a key present for the whole scan is returned exactly once. Keys with
 * the same hash are never split across pages, so the next cursor is never 0 by accident.
 */
export function scan(ctx: Context, args: Uint8Array[]): void {
  const cursor = parseCursor(args[1]);
  let pattern: string | null = null;
  let count = SCAN_COUNT_DEFAULT;
  let typeName: string | null = null;
  for (let i = 2; i < args.length; i++) {
    const opt = lower(args[i]);
    if (i + 1 >= args.length) throw syntaxError();
    if (opt === "match") pattern = text(args[++i]);
    else if (opt === "count") {
      count = integer(args[++i]);
      if (count < 1) throw syntaxError();
    } else if (opt === "type") typeName = lower(args[++i]);
    else throw syntaxError();
  }
  const slots = ctx.engine.keyspace.slots();
  const from = firstAtOrAfter(slots, cursor);
  let end = Math.min(from + count, slots.length);
  while (end > from && end < slots.length && slots[end].slot === slots[end - 1].slot) end++;
  const next = end < slots.length ? slots[end].slot : 0;
  // Like Redis, MATCH and TYPE filter the positions a call visited: a page may come back
  // empty. A dead view that holds no task is not a key, so it is filtered the same way.
  const page: string[] = [];
  if (typeName === null || typeName === "stream") {
    for (let i = from; i < end; i++) {
      const s = slots[i];
      if ((pattern === null || globMatch(pattern, s.name)) && ctx.engine.keyspace.slotIsKey(s)) page.push(s.name);
    }
  }
  const reply = ctx.session.reply;
  reply.array(2);
  reply.bulk(String(next));
  reply.array(page.length);
  for (const name of page) reply.bulk(name);
}

/** Index of the first position whose slot is >= `slot` (binary search). */
function firstAtOrAfter(slots: KeySlot[], slot: number): number {
  let lo = 0;
  let hi = slots.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (slots[mid].slot < slot) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function parseCursor(arg: Uint8Array): number {
  const s = text(arg);
  if (!/^\d{1,20}$/.test(s)) throw new UserError("ERR", "invalid cursor");
  // A cursor past the hash space (not one ezra handed out) simply ends the scan.
  return Math.min(Number(s), 2 ** 32);
}
