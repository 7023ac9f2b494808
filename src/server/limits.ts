// Every limit the server enforces, with units in the names, and their defaults.
export interface Limits {
  /** Open client connections; one more gets `-ERR max number of clients reached`. */
  connectionsMax: number;
  /** Bytes in one argument (bulk string), e.g. a task's payload field. */
  bulkBytesMax: number;
  /** Arguments in one command. */
  argsMax: number;
  /** Bytes in one inline (telnet-style) command line. */
  inlineBytesMax: number;
  /** Received but unprocessed bytes per connection before it is closed. */
  inputBytesMax: number;
  /** Unsent reply bytes per connection before it is closed (a client that never reads). */
  replyBytesMax: number;
  /** Unsent reply bytes past which a connection's commands wait for the client to read. */
  replyPauseBytes: number;
  /** Clients blocked in XREADGROUP at once. */
  blockedClientsMax: number;
}

/** Before AUTH (with --password): arguments per command and bytes per argument, as in Redis. */
export const UNAUTHENTICATED_ARGS_MAX = 10;
export const UNAUTHENTICATED_BULK_BYTES_MAX = 16 * 1024;

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Limits = {
  connectionsMax: 10_000,
  bulkBytesMax: 64 * MiB,
  argsMax: 1024 * 1024,
  inlineBytesMax: 64 * 1024,
  inputBytesMax: 256 * MiB,
  replyBytesMax: 64 * MiB,
  replyPauseBytes: 1 * MiB,
  blockedClientsMax: 10_000,
};
