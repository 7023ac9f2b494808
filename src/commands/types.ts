// What a command handler sees: the engine, server facts, and the calling connection's session.
// The command table is data: one CommandSpec per command, arity checked once by the router.
import type { Engine } from "../queue/engine.ts";
import type { ReplyWriter } from "../resp/encoder.ts";

export interface Session {
  readonly id: number;
  readonly reply: ReplyWriter;
  readonly remoteAddress: string;
  readonly connectedAt: number;
  name: string | null;
  libName: string | null;
  libVersion: string | null;
  authenticated: boolean;
  /** Stops running this connection's commands until resume() (a blocked read). */
  suspend(onClose: () => void): void;
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
