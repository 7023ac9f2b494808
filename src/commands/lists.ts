// List commands on queues, for clients that only know lists. A push is an XADD with one field
// `value`; a pop delivers and acknowledges the oldest task in one step (at-most-once, no retry).
// A popped task never loses a field: one that is not a lone `value` comes back whole (writeElement).
import type { Entry, ReadRequest, ReadResult } from "../queue/engine.ts";
import { UserError } from "./errors.ts";
import { waitingUpTo } from "../queue/reads.ts";
import type { ReplyWriter } from "../resp/encoder.ts";
import { text } from "./args.ts";
import { blockUntilAnswered, parseTimeoutSeconds } from "./blocking.ts";
import type { Context, Session } from "./types.ts";

/** The field a list push stores its element in, and the one a list pop returns. */
export const LIST_FIELD = "value";
/** The consumer group list pops are recorded under (the consumer is the client's name or id). */
export const LIST_GROUP = "lists";
/** Most elements one LPOP/RPOP with a count returns. */
export const LIST_POP_MAX = 10_000;
/**
 * LPUSH/RPUSH reply the waiting count counted up to this many: counting a long queue on every
 * push would cost time proportional to its backlog. LLEN/XLEN give the exact count.
 */
export const PUSH_REPLY_COUNT_MAX = 1000;

const LIST_FIELD_BYTES = new TextEncoder().encode(LIST_FIELD);

/** LPUSH/RPUSH key element [element ...]: each element becomes a task, in argument order. */
export function push(ctx: Context, args: Uint8Array[]): void {
  const key = text(args[1]);
  for (const element of args.slice(2)) ctx.engine.push(key, { kind: "auto" }, [LIST_FIELD_BYTES, element]);
  ctx.session.reply.integer(waitingUpTo(ctx.engine, key, PUSH_REPLY_COUNT_MAX));
}

/** LPOP/RPOP key [count]: both take the oldest tasks (a queue is FIFO). */
export function pop(ctx: Context, args: Uint8Array[]): void {
  if (args.length > 3) throw new UserError("ERR", `wrong number of arguments for '${text(args[0]).toLowerCase()}' command`);
  const { engine, session } = ctx;
  const reply = session.reply;
  const key = text(args[1]);
  const count = args.length === 3 ? popCount(args[2]) : null;
  const entries = count === 0 ? [] : engine.deliver(key, LIST_GROUP, consumerName(session), Math.min(count ?? 1, LIST_POP_MAX), true);
  if (count === null) return entries.length > 0 ? writeElement(reply, entries[0]) : reply.nil();
  // Nothing to pop answers as a missing key does in Redis; COUNT 0 on a non-empty queue is [].
  if (entries.length === 0 && (count > 0 || waitingUpTo(engine, key, 1) === 0)) return reply.nilArray();
  reply.array(entries.length);
  for (const entry of entries) writeElement(reply, entry);
}

/** BLPOP/BRPOP key [key ...] timeout: the first key with a task, else wait; replies [key, value]. */
export function blockingPop(ctx: Context, args: Uint8Array[]): void {
  const { engine, session } = ctx;
  const timeoutMs = parseTimeoutSeconds(args[args.length - 1]);
  const keys = args.slice(1, -1).map(text);
  const consumer = consumerName(session);
  for (const key of keys) {
    const entries = engine.deliver(key, LIST_GROUP, consumer, 1, true);
    if (entries.length > 0) return writeKeyValue(session.reply, key, entries[0]);
  }
  const req: ReadRequest = { keys, group: LIST_GROUP, consumer, count: 1, noack: true };
  const writeServed = (reply: ReplyWriter, [[key, entries]]: ReadResult) => writeKeyValue(reply, key, entries[0]);
  blockUntilAnswered<ReadResult>(ctx, "blpop", (a) => engine.waitForDelivery(req, timeoutMs, a.served, a.timeOut), writeServed);
}

export function llen(ctx: Context, args: Uint8Array[]): void {
  ctx.session.reply.integer(ctx.engine.length(text(args[1])));
}

function writeKeyValue(reply: ReplyWriter, key: string, entry: Entry): void {
  reply.array(2);
  reply.bulk(key);
  writeElement(reply, entry);
}

/**
 * A popped task as a list element. A task whose only field is `value` (what LPUSH/RPUSH make)
 * is that value, a bulk string. Any other task (several fields, one field of another name, or
 * none: only reserved fields) is its stored fields as an array `[field, value, ...]`: the pop
 * acks it, so handing out less would drop the rest for good.
 */
export function writeElement(reply: ReplyWriter, entry: Entry): void {
  const fields = entry.fields;
  if (fields.length === 2 && fieldText(fields[0]) === LIST_FIELD) return reply.bulk(fields[1]);
  reply.array(fields.length);
  for (const field of fields) reply.bulk(field);
}

function fieldText(field: string | Uint8Array): string {
  return typeof field === "string" ? field : text(field);
}

/** LPOP's count: Redis gives one error for anything but a whole number >= 0. */
function popCount(arg: Uint8Array): number {
  const s = text(arg);
  if (!/^\d{1,16}$/.test(s)) throw new UserError("ERR", "value is out of range, must be positive");
  return Number(s);
}

function consumerName(session: Session): string {
  return session.name ?? `client-${session.id}`;
}
