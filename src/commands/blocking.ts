// What every blocking read (XREADGROUP, XREAD, BLPOP/BRPOP) shares: parsing its timeout, and
// parking the connection until the queue layer answers it. The longest wait and the
// blocked-clients limit are the queue layer's (queue/waiters.ts), the same for every read.
import type { ReadRequest } from "../queue/engine.ts";
import type { QueueError } from "../queue/errors.ts";
import type { Waiter } from "../queue/waiters.ts";
import type { ReplyWriter } from "../resp/encoder.ts";
import { text } from "./args.ts";
import { fromQueueError, UserError } from "./errors.ts";
import type { Context } from "./types.ts";

/** BLOCK's argument (XREAD, XREADGROUP) in milliseconds, 0 = forever; Redis's errors. */
export function parseBlockMs(arg: Uint8Array): number {
  const t = text(arg);
  if (!/^-?\d{1,16}$/.test(t)) throw new UserError("ERR", "timeout is not an integer or out of range");
  const ms = Number(t);
  if (ms < 0) throw new UserError("ERR", "timeout is negative");
  return ms;
}

/** BLPOP's timeout: seconds, decimals allowed, 0 = forever; Redis's errors. */
export function parseTimeoutSeconds(arg: Uint8Array): number {
  const s = text(arg);
  const seconds = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(seconds)) throw new UserError("ERR", "timeout is not a float or out of range");
  if (seconds < 0) throw new UserError("ERR", "timeout is negative");
  return Math.ceil(seconds * 1000);
}

/** How the queue layer answers a parked read: each resumes the connection with its reply. */
export interface BlockedAnswers<T> {
  served(result: T): void;
  timeOut(): void;
  /** Its key deleted or its group destroyed (XREADGROUP): Redis 7's error, at once. */
  gone(err: QueueError): void;
}

/**
 * Parks the connection on the wait that `wait` registers, until that wait answers. Inside EXEC
 * nothing blocks: the read answers at once as its timeout would (a null array), as in Redis.
 */
export function blockUntilAnswered<T>(
  ctx: Context,
  command: string,
  wait: (answers: BlockedAnswers<T>) => Waiter<ReadRequest>,
  writeServed: (reply: ReplyWriter, result: T) => void,
): void {
  const { session, engine } = ctx;
  if (ctx.inExec) return session.reply.nilArray();
  const timeOut = () => session.resume((reply) => reply.nilArray());
  const waiter = wait({
    served: (result) => session.resume((reply) => writeServed(reply, result)),
    timeOut,
    gone: (err) => session.resume((reply) => reply.error(fromQueueError(err, command).reply)),
  });
  session.suspend({ cancel: () => engine.unblock(waiter), timeOut });
}
