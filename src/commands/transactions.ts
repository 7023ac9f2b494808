// MULTI / EXEC / DISCARD / WATCH / UNWATCH, answered as Redis 7 answers them. Stronger than
// Redis: EXEC runs inside one group-commit turn, so its commands share one storage transaction
// and its reply goes out after COMMIT; a storage error in any of them fails the whole turn, so
// nothing of the EXEC is applied (Redis would keep the commands that ran before it).
import { dispatch, storageError } from "./router.ts";
import { UserError } from "./errors.ts";
import { lower, text } from "./args.ts";
import type { Context, Session } from "./types.ts";

/** Commands that run at once inside MULTI instead of being queued, as in Redis. */
const RUN_INSIDE_MULTI = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);

/** True when the session is in MULTI and `name` (a top-level command) is to be queued. */
export function queues(session: Session, name: string): boolean {
  return session.transaction !== null && !RUN_INSIDE_MULTI.has(name);
}

/**
 * Queues a command that passed the router's checks (known, right arity, allowed). Queued
 * commands are held in memory until EXEC, so their bytes are capped like a connection's
 * unprocessed input (--input-bytes-max): past it the command is refused and EXEC will abort.
 */
export function enqueue(ctx: Context, args: Uint8Array[]): void {
  const tx = ctx.session.transaction;
  if (!tx) return;
  let bytes = 0;
  for (const arg of args) bytes += arg.byteLength;
  const max = ctx.server.limits.inputBytesMax ?? Number.POSITIVE_INFINITY;
  if (tx.bytes + bytes > max) {
    tx.failed = true;
    throw new UserError("ERR", `transaction over ${max} bytes of queued commands (--input-bytes-max); EXEC will abort`);
  }
  tx.bytes += bytes;
  tx.queued.push(args);
  ctx.session.reply.simple("QUEUED");
}

/**
 * A command refused before it ran (unknown, wrong arity, not authenticated). Inside MULTI it
 * dooms the transaction: EXEC will answer EXECABORT. EXEC itself refused aborts at once, with
 * Redis's wording, and drops the transaction and the watched keys.
 */
export function refused(ctx: Context, args: Uint8Array[], err: UserError): UserError {
  const session = ctx.session;
  if (args.length > 0 && lower(args[0]) === "exec") {
    endTransaction(session);
    const because = err.prefix === "ERR" ? err.message : err.reply;
    return new UserError("EXECABORT", `Transaction discarded because of: ${because}`);
  }
  if (session.transaction) session.transaction.failed = true;
  return err;
}

/** Leaves MULTI and forgets watched keys (EXEC, DISCARD, RESET, disconnect). */
export function endTransaction(session: Session): void {
  session.transaction = null;
  session.watching?.clear();
  session.watching = null;
}

export function multi(ctx: Context): void {
  const session = ctx.session;
  if (session.transaction) throw new UserError("ERR", "MULTI calls can not be nested");
  session.transaction = { queued: [], bytes: 0, failed: false };
  session.reply.simple("OK");
}

export function discard(ctx: Context): void {
  const session = ctx.session;
  if (!session.transaction) throw new UserError("ERR", "DISCARD without MULTI");
  endTransaction(session);
  session.reply.simple("OK");
}

export function exec(ctx: Context): void {
  const { session, engine } = ctx;
  const tx = session.transaction;
  if (!tx) throw new UserError("ERR", "EXEC without MULTI");
  const changed = session.watching?.changed() ?? false;
  endTransaction(session);
  if (tx.failed) throw new UserError("EXECABORT", "Transaction discarded because of previous errors.");
  // A watched key was written since WATCH (by anyone): nothing runs, the reply is a null array.
  if (changed) return session.reply.nilArray();
  session.markExecReply();
  const reply = session.reply;
  reply.array(tx.queued.length);
  const inner: Context = { ...ctx, inExec: true };
  let failure: Error | null = null;
  for (const args of tx.queued) {
    // After a storage error the turn rolls back: the remaining commands must not run, and this
    // whole reply is replaced by EXECABORT once the turn ends (Connection.afterTurn).
    if (failure) {
      reply.error(storageError(failure).reply);
      continue;
    }
    failure = dispatch(inner, args);
    if (failure) engine.turn.fail(failure);
  }
}

export function watch(ctx: Context, args: Uint8Array[]): void {
  const session = ctx.session;
  if (session.transaction) throw new UserError("ERR", "WATCH inside MULTI is not allowed");
  const list = session.watching ?? ctx.engine.versions.list();
  for (const key of args.slice(1)) list.add(text(key));
  session.watching = list;
  session.reply.simple("OK");
}

export function unwatch(ctx: Context): void {
  ctx.session.watching?.clear();
  ctx.session.watching = null;
  ctx.session.reply.simple("OK");
}

/** What an EXEC's reply reads when its turn failed to commit: nothing of it was applied. */
export function execAbortedByStorage(failure: Error): string {
  return `EXECABORT Transaction discarded: ${storageError(failure).message}`;
}
