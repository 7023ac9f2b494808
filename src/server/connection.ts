// One client connection: decodes requests, runs them through the router in order, buffers
// replies until the turn commits, then writes them in one socket write. Blocked reads suspend
// the command stream; pending output past the soft limit pauses it (backpressure).
import type { Socket } from "bun";
import { dispatch, storageError } from "../commands/router.ts";
import { endTransaction, execAbortedByStorage } from "../commands/transactions.ts";
import type { Blocked, Context, ServerFacts, Session, Transaction } from "../commands/types.ts";
import type { Engine } from "../queue/engine.ts";
import type { WatchList } from "../queue/watch.ts";
import { type DecoderLimits, ProtocolError, RequestDecoder } from "../resp/decoder.ts";
import { ReplyWriter } from "../resp/encoder.ts";
import { type Limits, UNAUTHENTICATED_ARGS_MAX, UNAUTHENTICATED_BULK_BYTES_MAX } from "./limits.ts";

/** Commands one connection runs per turn before others get a go (fairness). */
const COMMANDS_PER_TURN_MAX = 4096;

export interface ConnectionHost {
  readonly engine: Engine;
  readonly facts: ServerFacts;
  readonly limits: Limits;
  markDirty(conn: Connection): void;
  log(message: string): void;
}

export class Connection implements Session {
  readonly reply = new ReplyWriter();
  readonly connectedAt = Date.now();
  name: string | null = null;
  libName: string | null = null;
  libVersion: string | null = null;
  transaction: Transaction | null = null;
  watching: WatchList | null = null;
  private isAuthenticated = false;
  /** Read by the decoder at each header: tightened until the client authenticates. */
  private readonly decoderLimits: DecoderLimits;
  private readonly decoder: RequestDecoder;
  private readonly ctx: Context;
  private unwritten: Uint8Array | null = null;
  private suspendedUntilReply: Blocked | null = null;
  private closing = false;
  private closed = false;
  /** Where this turn's replies start in `reply`, and how many there are (for rollback). */
  private turnMark = -1;
  private turnReplies = 0;
  /** The leading replies of this turn made before any row changed: true even if COMMIT fails. */
  private cleanMark = -1;
  private cleanReplies = 0;
  /** Which of this turn's replies (by index) are EXEC replies: they read EXECABORT if the turn fails. */
  private execReplies: number[] = [];
  /** Set by a delivery whose reply may be sent before the turn's COMMIT (answerBeforeCommit). */
  private deliveryAnswered = false;

  constructor(
    readonly id: number,
    private readonly socket: Socket<Connection>,
    private readonly host: ConnectionHost,
  ) {
    this.decoderLimits = { bulkBytesMax: host.limits.bulkBytesMax, argsMax: host.limits.argsMax, inlineBytesMax: host.limits.inlineBytesMax };
    this.decoder = new RequestDecoder(this.decoderLimits);
    this.authenticated = host.facts.password === null;
    this.ctx = { engine: host.engine, server: host.facts, session: this };
  }

  get authenticated(): boolean {
    return this.isAuthenticated;
  }

  // Before AUTH a stranger may send only small commands (as Redis does), not 64 MiB payloads.
  set authenticated(yes: boolean) {
    this.isAuthenticated = yes;
    const { bulkBytesMax, argsMax } = this.host.limits;
    this.decoderLimits.bulkBytesMax = yes ? bulkBytesMax : Math.min(bulkBytesMax, UNAUTHENTICATED_BULK_BYTES_MAX);
    this.decoderLimits.argsMax = yes ? argsMax : Math.min(argsMax, UNAUTHENTICATED_ARGS_MAX);
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress}:${(this.socket as unknown as { remotePort?: number }).remotePort ?? 0}`;
  }

  get localAddress(): string {
    const socket = this.socket as unknown as { localAddress?: string; localPort?: number };
    return `${socket.localAddress ?? this.host.facts.host}:${socket.localPort ?? this.host.facts.port}`;
  }

  get pendingOutputBytes(): number {
    return (this.unwritten?.byteLength ?? 0) + this.reply.length;
  }

  onData(chunk: Uint8Array): void {
    if (this.closing) return;
    this.decoder.push(chunk);
    if (this.decoder.bufferedBytes > this.host.limits.inputBytesMax) {
      this.host.log(`closing client ${this.id}: over ${this.host.limits.inputBytesMax} bytes of unprocessed input (--input-bytes-max)`);
      // A client that is not reading would never let the error reply out, and the connection
      // would keep its full input buffer forever: cut it off now.
      if (this.unwritten) {
        this.closing = true;
        return this.destroy();
      }
      return this.fail(`ERR client input buffer over ${this.host.limits.inputBytesMax} bytes (--input-bytes-max); closing`);
    }
    this.process();
  }

  /** Runs buffered commands until blocked, paused by backpressure, or out of input. */
  process(): void {
    const turn = this.host.engine.turn;
    let cleanAfterPrevious = false;
    for (let n = 0; n < COMMANDS_PER_TURN_MAX; n++) {
      if (this.suspendedUntilReply || this.closing || this.outputPaused()) return;
      let args: Uint8Array[] | null;
      try {
        args = this.decoder.next();
      } catch (err) {
        if (err instanceof ProtocolError) return this.fail(`ERR ${err.message}`);
        throw err;
      }
      if (!args) return;
      turn.enter();
      this.beginTurnOutput();
      // Whether everything this command can read is committed: no row changed yet this turn.
      // (turn.clean asks the database while the turn is clean; the answer after the previous
      // command of this loop still holds, since nothing else ran in between.)
      const onlyCommittedBefore = this.cleanReplies === this.turnReplies && (cleanAfterPrevious || turn.clean);
      this.deliveryAnswered = false;
      dispatch(this.ctx, args);
      if (!this.suspendedUntilReply) this.turnReplies++;
      if (this.deliveryAnswered && onlyCommittedBefore && this.execReplies.length === 0) {
        this.answerNow();
        cleanAfterPrevious = false;
        continue;
      }
      cleanAfterPrevious = turn.clean;
      if (!cleanAfterPrevious) {
        // This reply may show a change of this turn: the COMMIT must be on disk before it goes.
        turn.requireDurable();
      } else if (this.cleanReplies === this.turnReplies - 1) {
        this.cleanMark = this.reply.mark();
        this.cleanReplies = this.turnReplies;
      }
    }
    // More input than one turn's share: carry on in a later turn.
    setImmediate(() => this.process());
  }

  private beginTurnOutput(): void {
    if (this.turnMark < 0) {
      this.turnMark = this.reply.mark();
      this.cleanMark = this.turnMark;
      this.host.markDirty(this);
    }
  }

  private outputPaused(): boolean {
    return this.pendingOutputBytes > this.host.limits.replyPauseBytes;
  }

  suspend(blocked: Blocked): void {
    this.suspendedUntilReply = blocked;
  }

  unblock(error: string | null): boolean {
    const blocked = this.suspendedUntilReply;
    if (!blocked || this.closed) return false;
    blocked.cancel();
    if (error === null) blocked.timeOut();
    else this.resume((reply) => reply.error(error));
    return true;
  }

  kill(): void {
    this.closing = true;
    this.destroy();
  }

  answerBeforeCommit(): void {
    this.deliveryAnswered = true;
  }

  /**
   * Sends this turn's replies so far without waiting for COMMIT. Only for a delivery of tasks
   * that were committed before this turn, after replies that showed committed state only: if
   * the COMMIT then fails or the machine dies first, what is lost is the delivery itself (the
   * task is still waiting, or comes back at restart as every in-flight task does, with that
   * attempt uncounted). Later replies of the turn wait for its COMMIT as usual.
   */
  private answerNow(): void {
    this.turnMark = -1;
    this.turnReplies = 0;
    this.cleanMark = -1;
    this.cleanReplies = 0;
    this.flush();
  }

  markExecReply(): void {
    this.execReplies.push(this.turnReplies);
  }

  resume(writeReply: (reply: ReplyWriter) => void): void {
    this.suspendedUntilReply = null;
    // The deferred reply belongs to the current turn (mark first, so a rollback can drop it).
    this.host.engine.turn.enter();
    this.host.engine.turn.requireDurable();
    this.beginTurnOutput();
    writeReply(this.reply);
    this.turnReplies++;
  }

  closeAfterReply(): void {
    this.closing = true;
  }

  /** Called once the turn has committed (or failed): send this turn's replies. */
  afterTurn(failure: Error | null): void {
    if (failure && this.turnMark >= 0) {
      // Nothing of this turn reached the disk: no reply may claim otherwise. Replies made
      // before the turn changed any row (reads, PING) showed committed state and stand.
      this.reply.truncate(this.cleanMark);
      const message = storageError(failure).reply;
      // A MULTI or +QUEUED among the replaced replies now reads as an error: the client
      // must not see a later EXEC run commands it was told failed, so the transaction aborts.
      if (this.transaction && this.cleanReplies < this.turnReplies) this.transaction.failed = true;
      for (let i = this.cleanReplies; i < this.turnReplies; i++) {
        this.reply.error(this.execReplies.includes(i) ? execAbortedByStorage(failure) : message);
      }
    }
    this.execReplies = [];
    this.turnMark = -1;
    this.turnReplies = 0;
    this.cleanMark = -1;
    this.cleanReplies = 0;
    this.flush();
    if (!this.suspendedUntilReply && !this.closing && this.decoder.bufferedBytes > 0) this.process();
  }

  private flush(): void {
    if (this.closed) return;
    // While this connection has replies in an open turn (a drain event can arrive before the
    // turn commits), they stay buffered: a client never sees a reply for uncommitted work.
    const turnOpen = this.turnMark >= 0;
    if (this.reply.length > 0 && !turnOpen) {
      const bytes = this.reply.take();
      this.unwritten = this.unwritten ? concat(this.unwritten, bytes) : bytes;
    }
    if (this.unwritten) {
      const written = this.socket.write(this.unwritten);
      this.unwritten = written >= this.unwritten.byteLength ? null : this.unwritten.subarray(Math.max(0, written));
    }
    if (this.unwritten && this.unwritten.byteLength > this.host.limits.replyBytesMax) {
      this.host.log(`closing client ${this.id}: ${this.unwritten.byteLength} reply bytes unread (--reply-bytes-max)`);
      return this.destroy();
    }
    if (!this.unwritten && this.closing && !turnOpen) this.socket.end();
  }

  onDrain(): void {
    const wasPaused = this.outputPaused();
    this.flush();
    if (wasPaused && !this.outputPaused()) this.process();
  }

  /** Protocol error or limit: reply with the error, then close; other clients are unaffected. */
  private fail(message: string): void {
    this.host.engine.turn.enter();
    this.beginTurnOutput();
    this.reply.error(message);
    this.turnReplies++;
    this.closing = true;
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end();
  }

  onClose(): void {
    this.closed = true;
    this.closing = true;
    const blocked = this.suspendedUntilReply;
    this.suspendedUntilReply = null;
    blocked?.cancel();
    // Watched keys cost the engine a version slot each: give them back.
    endTransaction(this);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
