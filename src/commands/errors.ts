// A command's error as a value: a Redis error prefix (ERR, NOGROUP, BUSYGROUP, ...) and a message.
// The command layer turns it into a RESP error reply; the connection stays open.
import type { QueueError } from "../queue/errors.ts";

export class UserError extends Error {
  constructor(
    readonly prefix: string,
    message: string,
  ) {
    super(message);
  }

  /** The text after `-` in a RESP error reply. */
  get reply(): string {
    return `${this.prefix} ${this.message}`;
  }
}

export const syntaxError = () => new UserError("ERR", "syntax error");

/** XGROUP on a key that is not a queue (CREATE without MKSTREAM, and every other subcommand). */
export const XGROUP_NO_KEY =
  "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/** The queue layer's typed error, worded as Redis words the same condition (or as ezra's own, where Redis has none). */
export function fromQueueError(err: QueueError, command: string): UserError {
  switch (err.code) {
    case "NOT_FOUND":
      if (command === "xgroup|create") return new UserError("ERR", XGROUP_NO_KEY);
      return new UserError("ERR", "no such key");
    case "DEAD_VIEW": {
      const queue = err.detail.queue ?? "";
      if (command === "ezra|config|set") return new UserError("ERR", `settings belong to '${queue}', not its dead-letter view`);
      if (command === "xsetid") return new UserError("ERR", `ids belong to '${queue}', not its dead-letter view '${queue}::dead'`);
      return new UserError("ERR", `'${queue}::dead' is the dead-letter view of '${queue}'; push to '${queue}'`);
    }
    case "ID_ZERO":
      return new UserError("ERR", "The ID specified in XADD must be greater than 0-0");
    case "ID_NOT_GREATER":
      return new UserError("ERR", "The ID specified in XADD is equal or smaller than the target stream top item");
    case "ID_BELOW_TOP":
      return new UserError("ERR", "The ID specified in XSETID is smaller than the target stream top item");
    case "ENTRIES_BELOW_LENGTH":
      return new UserError("ERR", "The entries_added specified in XSETID is smaller than the target stream length");
    case "ID_EXHAUSTED":
      return new UserError("ERR", "The stream has exhausted the last possible ID, unable to add more items");
    // The queue layer's message already names the option, the value and the range.
    case "INVALID_TASK_OPTION":
      return new UserError("ERR", err.message);
    case "LIMIT":
      return new UserError("ERR", `${err.message}; raise ${err.detail.flag}`);
    // Redis 7's replies to a client blocked in XREADGROUP when its key or group goes away.
    case "KEY_DELETED":
      return new UserError("UNBLOCKED", "the stream key no longer exists");
    case "GROUP_DESTROYED":
      return new UserError("NOGROUP", "the consumer group this client was blocked on no longer exists");
  }
}
