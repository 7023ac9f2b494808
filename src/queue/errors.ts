// The queue layer's errors as typed codes, with the facts a front door needs to word them. The
// RESP commands word them the Redis way (commands/errors.ts); an HTTP door would pick a status.
export type QueueErrorCode =
  /** The queue does not exist. */
  | "NOT_FOUND"
  /** The operation belongs to the queue, not to its dead-letter view `<queue>::dead`. */
  | "DEAD_VIEW"
  /** An explicit id of 0-0. */
  | "ID_ZERO"
  /** An explicit id not above the queue's last id. */
  | "ID_NOT_GREATER"
  /** The queue has handed out its last possible id. */
  | "ID_EXHAUSTED"
  /** XSETID below the queue's newest task (or dead letter). */
  | "ID_BELOW_TOP"
  /** XSETID's entries-added below the number of entries the queue holds. */
  | "ENTRIES_BELOW_LENGTH"
  /** A task option (a reserved field such as ttl) has a value out of its range; `option` names it. */
  | "INVALID_TASK_OPTION"
  /** A configured limit was reached (`flag` names the setting). */
  | "LIMIT"
  /** A blocked group read's key was deleted (DEL, UNLINK) while it waited. */
  | "KEY_DELETED"
  /** A blocked group read's group was destroyed (XGROUP DESTROY) while it waited. */
  | "GROUP_DESTROYED";

export class QueueError extends Error {
  constructor(
    readonly code: QueueErrorCode,
    message: string,
    /** For DEAD_VIEW: the queue the view belongs to. For LIMIT: the setting's flag and value. For INVALID_TASK_OPTION: the option. */
    readonly detail: { queue?: string; flag?: string; value?: number; option?: string } = {},
  ) {
    super(message);
  }
}
