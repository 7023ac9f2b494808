// The storage boundary: everything the queue engine asks of a database, in tasks, queues,
// groups and consumers. The engine holds no SQL, no database handle and no database error
// type; a driver (SQLite today, under sqlite/) turns these calls into statements.
//
// Calls are synchronous and run inside the turn the engine opened with begin(): every write
// between begin() and commit() lands in one transaction, or none of it does.

export type Durability = "full" | "normal";

/** "ezra": every entry carries `attempts` and `max_attempts` after its fields; "plain": the fields as pushed. */
export type EntryFields = "ezra" | "plain";

/** A task's state as stored. `dead` tasks live under the queue's dead view `<queue>::dead`. */
export type TaskState = "available" | "in_flight" | "done" | "dead";

export interface Id {
  ms: number;
  seq: number;
}

/** A task as delivered or read: its id, its encoded fields, and its delivery count. */
export interface TaskRecord extends Id {
  fields: string | Uint8Array;
  attempts: number;
  /** The task's own max_attempts; null: its queue's, else the server default. */
  max_attempts: number | null;
}

export interface QueueRecord {
  name: string;
  lastId: Id;
  /** Ids ever added (XINFO entries-added). */
  entriesAdded: number;
  /** Largest encoded task pushed, in bytes (bounds claims by reply size). */
  fieldsBytesMax: number;
  /** Largest id XDEL ever removed, or XSETID MAXDELETEDID set (XINFO max-deleted-entry-id). */
  maxDeletedId: Id;
  visibilityTimeoutMs: number | null;
  maxAttempts: number | null;
  retentionMs: number | null;
  /** How entries are delivered: with ezra's attempts fields ("ezra") or as pushed ("plain"); null: "ezra". */
  entryFields: EntryFields | null;
  createdAt: number;
}

/** Where a task went when its lease ended: the key (queue or dead view) and its new state. */
export interface Moved {
  queue: string;
  state: TaskState;
}

/** One in-flight task of a group (XPENDING). */
export interface PendingRecord extends Id {
  worker: string;
  deliveredAt: number;
  attempts: number;
}

export interface ConsumerRecord {
  name: string;
  seenAt: number;
  /** Last successful claim; null when it never claimed anything. */
  activeAt: number | null;
}

export interface NewTask extends Id {
  queue: string;
  fields: string | Uint8Array;
  maxAttempts: number | null;
  /** ttl: removed at this time (ms since epoch) whatever its state; null: never. */
  expiresAt: number | null;
  createdAt: number;
}

/** What a delivery sets on each task it takes. */
export interface Delivery {
  /** in_flight, or done for deliveries that ack as they deliver (NOACK). */
  state: "in_flight" | "done";
  /** Added to attempts: 1, or 0 where a delivery counts none (dead views). */
  attemptsAdded: number;
  worker: string;
  group: string;
  leaseUntil: number | null;
  deliveredAt: number;
  finishedAt: number | null;
  purgeAt: number | null;
}

/** A lease ending without success (nack, expiry, restart): back to available, or to dead. */
export interface Release {
  now: number;
  /** The server's max_attempts, for tasks and queues that set none. */
  defaultMaxAttempts: number;
  /** Recorded as last_error; null keeps the previous one. */
  reason: string | null;
}

/** XCLAIM / XAUTOCLAIM of one task held by a group. */
export interface Takeover extends Id {
  queue: string;
  group: string;
  worker: string;
  leaseUntil: number;
  deliveredAt: number;
  /** Only tasks delivered at or before this (min idle time). */
  deliveredBy: number;
  /** RETRYCOUNT: set attempts to this. */
  retryCount: number | null;
  /** JUSTID: keep attempts as they are. */
  justId: boolean;
  /** FORCE: also take a task held through another group. */
  anyGroup: boolean;
  attemptsAdded: number;
}

export interface PendingQuery {
  queue: string;
  group: string;
  start: Id;
  end: Id;
  /** Only tasks delivered at or before this. */
  deliveredBy: number;
  count: number;
  worker: string | null;
}

/** Why a storage call failed, as a code the front doors can word (and test) without the driver's types. */
export type StorageErrorCode =
  | "NOT_A_DIRECTORY" // the data dir is missing or a file
  | "NOT_WRITABLE" // the data dir or ezra.db cannot be written
  | "LOCKED" // another server holds the data dir
  | "NOT_EZRA" // the file is not an ezra database
  | "NEWER_SCHEMA" // written by a newer ezra
  | "CORRUPT" // damaged file
  | "UNREADABLE" // cannot be opened as a database at all
  | "FAILED" // a statement failed (disk full, I/O error, ...): nothing of the turn is stored
  | "NOT_DURABLE"; // the turn was written but its fdatasync failed: a power cut may undo it

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Driver {
  /** Where the data lives, as a user would look for it (the startup report names it). */
  readonly location: string;
  /**
   * How long a delivery may be held in memory only before nextDue() asks for the timer to write
   * it (0: deliveries are written in their turn). The engine keeps the timer due by then.
   */
  readonly claimWriteDelayMs: number;

  // --- the turn: one transaction -------------------------------------------------------
  begin(): void;
  /**
   * Commits; returns true when the transaction changed anything. `durable`: a reply waits on
   * this commit, so with durability full it must be on disk before commit() returns; otherwise
   * (only early-answered deliveries, or timer work) it may reach the disk with a later commit.
   */
  commit(durable: boolean): boolean;
  /**
   * Undoes the open turn, in storage and in what the driver keeps in memory; also called after
   * the database rolled back by itself, and after a COMMIT whose sync failed (then nothing is
   * undone: the turn is written).
   */
  rollback(): void;
  readonly inTransaction: boolean;
  /** True once a statement of the open transaction has changed a row. */
  wroteSinceBegin(): boolean;
  /** The database's own failure inside a call, as a StorageError; null for anything else (a bug). */
  failureOf(err: unknown): StorageError | null;
  /** Writes what the driver holds in memory only (claims not written yet), then closes. */
  close(): void;

  // --- start-up ------------------------------------------------------------------------
  /**
   * Every queue, with whatever the driver keeps in memory rebuilt from storage (at start, and
   * after a rollback). With `recovery` (at start) every in-flight task first goes back to
   * available (or dead): a restart ends every lease.
   */
  queues(recovery: Release | null): QueueRecord[];
  groupNames(queue: string): string[];

  // --- queues and groups ---------------------------------------------------------------
  createQueue(name: string, createdAt: number): void;
  saveQueueProgress(queue: QueueRecord): void;
  saveQueueSettings(queue: QueueRecord): void;
  /** DEL: the queue, its tasks, its dead letters, groups and consumers. */
  deleteQueue(name: string): void;
  /** DEL of a dead view: its tasks only. */
  deleteTasksOf(key: string): void;
  createGroup(queue: string, group: string, createdAt: number): void;
  /** XGROUP DESTROY: the group and its consumers (its in-flight tasks stay in flight). */
  deleteGroup(queue: string, group: string): void;

  // --- consumers -----------------------------------------------------------------------
  /** Creates or updates a consumer's row; activeAt null keeps the stored one. */
  touchConsumer(queue: string, group: string, consumer: string, seenAt: number, activeAt: number | null): void;
  /** False when it exists already. */
  createConsumer(queue: string, group: string, consumer: string, seenAt: number): boolean;
  deleteConsumer(queue: string, group: string, consumer: string): void;
  consumerSeenAt(queue: string, group: string, consumer: string): number | null;
  /** Moves stored seen-times forward (never back). */
  saveSeenAt(seen: { queue: string; group: string; name: string; at: number; activeAt: number | null }[]): void;
  consumers(queue: string, group: string): ConsumerRecord[];
  consumerCount(queue: string, group: string): number;

  // --- tasks ---------------------------------------------------------------------------
  insertTask(task: NewTask): void;
  /** Takes up to `count` tasks of `key` in `from` state, oldest first, and sets `delivery` on them. */
  deliver(key: string, from: "available" | "dead", count: number, delivery: Delivery): TaskRecord[];
  /** Encoded sizes of the next `count` tasks a delivery would take. */
  nextSizes(key: string, from: "available" | "dead", count: number): number[];
  /** Acks in-flight tasks: done (purged at `purgeAt`), or deleted when `purgeAt` is null. Returns how many. */
  ack(key: string, ids: readonly Id[], finishedAt: number, purgeAt: number | null): number;
  /** Ends one lease without success; null when the task was not in flight. */
  release(key: string, id: Id, release: Release): Moved | null;
  /** Ends up to `limit` leases that ran out by `release.now`, soonest first. */
  releaseExpired(release: Release, limit: number): Moved[];
  /** XGROUP DELCONSUMER: the consumer's tasks go back to `to`, the withdrawn delivery uncounted when `giveBack`. */
  releaseConsumer(key: string, group: string, worker: string, to: "available" | "dead", giveBack: boolean, now: number, reason: string): number;
  taskState(key: string, id: Id): TaskState | null;
  /** Deletes one task in any state; returns 1 or 0. */
  deleteTask(key: string, id: Id): number;
  /** Removes done tasks whose retention ended by `now`; returns how many. */
  purgeDone(now: number, limit: number): number;
  /** Removes tasks whose ttl ended by `now`, in any state. */
  expireTtl(now: number, limit: number): Moved[];
  /** The earliest lease end, ttl or purge time; null when nothing is due ever. */
  nextDue(): number | null;
  /** MAXLEN: drops the oldest tasks beyond `maxLength`, at most `limit`; returns how many. */
  trimToLength(key: string, maxLength: number, limit: number): number;
  /** MINID: drops tasks with ids below `minId`, at most `limit`; returns how many. */
  trimBelowId(key: string, minId: Id, limit: number): number;

  // --- reads ---------------------------------------------------------------------------
  countState(key: string, state: TaskState): number;
  /** Counts `available` tasks, no further than `max`. */
  countAvailableUpTo(key: string, max: number): number;
  countByState(key: string): Partial<Record<TaskState, number>>;
  firstTask(key: string): TaskRecord | null;
  lastTask(key: string): TaskRecord | null;
  hasTasks(key: string): boolean;
  range(key: string, start: Id, end: Id, count: number, reverse: boolean): TaskRecord[];
  /** The newest task in `state`, for XINFO's last-delivered-id. */
  newestInState(key: string, state: TaskState): Id | null;

  // --- a group's in-flight tasks (XPENDING, XCLAIM, XAUTOCLAIM) --------------------------
  ownPending(key: string, group: string, worker: string, after: Id, count: number): TaskRecord[];
  pendingByWorker(key: string, group: string): { worker: string; count: number }[];
  pendingCount(key: string, group: string): number;
  pendingBounds(key: string, group: string): { first: Id; last: Id } | null;
  pending(query: PendingQuery): PendingRecord[];
  /** The group's in-flight tasks from `start` on, oldest first (XAUTOCLAIM's scan). */
  pendingFrom(key: string, group: string, start: Id, count: number): (Id & { deliveredAt: number })[];
  /** Moves one held task to `takeover.worker`; null when it is not held (or not idle enough). */
  takeOver(takeover: Takeover): TaskRecord | null;
  /** XCLAIM FORCE of a task nobody holds, from `from` state. */
  takeWaiting(takeover: Takeover, from: "available" | "dead"): TaskRecord | null;
}
