// What a command handler sees: the engine, server facts, and the calling connection's session.
// The command table is data: one CommandSpec per command, arity checked once by the router.
import type { Engine } from "../queue/engine.ts";
import type { WatchList } from "../queue/watch.ts";
import type { ReplyWriter } from "../resp/encoder.ts";

/** A command waiting in a blocked read: how to drop its wait, and how to answer it as its timeout would. */
export interface Blocked {
  cancel(): void;
  timeOut(): void;
}

/** MULTI's state: the commands queued so far, and whether one was refused (EXEC then aborts). */
export interface Transaction {
  readonly queued: Uint8Array[][];
  /** Argument bytes queued so far (capped at --input-bytes-max). */
  bytes: number;
  failed: boolean;
}

export interface Session {
  readonly id: number;
  readonly reply: ReplyWriter;
  readonly remoteAddress: string;
  /** The server's side of the connection, `ip:port` (CLIENT KILL LADDR). */
  readonly localAddress: string;
  readonly connectedAt: number;
  name: string | null;
  libName: string | null;
  libVersion: string | null;
  authenticated: boolean;
  /** Between MULTI and EXEC/DISCARD; null otherwise. */
  transaction: Transaction | null;
  /** WATCHed keys; null when none. */
  watching: WatchList | null;
  /** Stops running this connection's commands until resume() (a blocked read). */
  suspend(blocked: Blocked): void;
  /** CLIENT UNBLOCK: ends a blocked read with its timeout reply, or with `error`; false when not blocked. */
  unblock(error: string | null): boolean;
  /** CLIENT KILL: closes the connection now, dropping replies not yet sent. */
  kill(): void;
  /** The reply being made is an EXEC's: if the turn fails, it reads EXECABORT, not a lone storage error. */
  markExecReply(): void;
  /**
   * The reply being made delivers tasks (no ack with it): the connection may send it before the
   * turn's COMMIT when every task it hands out was committed before (server/connection.ts).
   */
  answerBeforeCommit(): void;
  /** Ends a suspension: writes the deferred reply (in the current turn) and runs later commands. */
  resume(writeReply: (reply: ReplyWriter) => void): void;
  /** Closes the connection once the pending replies are written (QUIT). */
  closeAfterReply(): void;
}

export interface ServerFacts {
  readonly version: string;
  readonly startedAt: number;
  readonly port: number;
  readonly host: string;
  readonly password: string | null;
  readonly dataFile: string;
  readonly durability: string;
  clientCount(): number;
  clientList(): Session[];
  readonly limits: Record<string, number>;
}

export interface Context {
  readonly engine: Engine;
  readonly server: ServerFacts;
  readonly session: Session;
  /** Running inside EXEC: blocking commands answer at once, as on timeout (as in Redis). */
  readonly inExec?: boolean;
}

export type CommandFlag = "write" | "readonly" | "noauth" | "blocking" | "connection" | "admin";

export interface CommandSpec {
  readonly name: string;
  /** Redis convention: N is exactly N arguments (name included), -N is at least N. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  /** Subcommands (XGROUP CREATE, CLIENT ID, ...), looked up by the router like commands. */
  readonly subcommands?: readonly CommandSpec[];
  /** Only groups subcommands (XGROUP, CLIENT); it cannot run on its own. */
  readonly container?: boolean;
  readonly run: (ctx: Context, args: Uint8Array[]) => void;
  readonly summary: string;
}
