// The SQLite driver: opens ezra.db (WAL, schema by user_version: migrate.ts) in a data dir it
// locks, and answers the Driver interface with statements prepared once (statements.ts,
// claims-sql.ts, reads-sql.ts). Waiting tasks are ordered in memory (waiting.ts), pushes are
// written in batches (pushes.ts), checkpoints run on a thread (checkpointer.ts); with
// --durability full each COMMIT is fdatasynced here. Database errors leave here as
// StorageError, never as SQLite's own type.
import { Database, SQLiteError } from "bun:sqlite";
import { closeSync, existsSync, fdatasyncSync, openSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type ConsumerRecord,
  type Delivery,
  type Driver,
  type Durability,
  type Id,
  type Moved,
  type NewTask,
  type PendingQuery,
  type PendingRecord,
  type QueueRecord,
  type Release,
  StorageError,
  type TaskRecord,
  type TaskState,
  type Takeover,
} from "../driver.ts";
import { syncPath } from "../fsync.ts";
import { Checkpointer } from "./checkpointer.ts";
import { type ClaimStatements, prepareClaims } from "./claims-sql.ts";
import { checkWritable, inspectExisting } from "./preflight.ts";
import { prepareReads, type ReadStatements } from "./reads-sql.ts";
import { migrate, SCHEMA_VERSION } from "./migrate.ts";
import { type MovedRow, prepareAll, type QueueRow, STATE_OF, STATUS, type Statements } from "./statements.ts";
import { PushWriter } from "./pushes.ts";
import { WaitingOrders } from "./waiting.ts";

/** Payloads of pushed, not yet claimed tasks held in memory (waiting.ts), across all queues. */
const PAYLOAD_CACHE_BYTES_MAX = 16 * 1024 * 1024;
/** The WAL file's size after it starts over; the in-turn auto-checkpoint (16,000 pages) bounds it under load. */
const WAL_BYTES_KEPT = 64 * 1024 * 1024;
/** What a cached task costs beside its payload (the entry object and its slot; UTF-16 strings count 2 bytes a character). */
const CACHED_TASK_OVERHEAD_BYTES = 80;

export { SCHEMA_VERSION };

const DEAD_SUFFIX = "::dead";

export class SqliteDriver implements Driver {
  readonly location: string;
  private readonly db: Database;
  private readonly sql: Statements;
  private readonly reads: ReadStatements;
  private readonly claims: ClaimStatements;
  private readonly lock: Database;
  private readonly checkpointer: Checkpointer;
  private changesAtBegin = 0;
  private readonly syncEachCommit: boolean;
  /** The WAL file, kept open for fdatasync (SQLite keeps it while any connection is open). */
  private walFd = -1;
  /** Queue name -> id, and back: tasks are filed under integer keys (schema.sql). Rebuilt by queues(). */
  private ids = new Map<string, number>();
  private names = new Map<number, string>();
  /** Each key's waiting tasks in delivery order (waiting.ts). Rebuilt by queues(), with the names. */
  private readonly waiting = new WaitingOrders(PAYLOAD_CACHE_BYTES_MAX);
  private readonly pushes: PushWriter;

  constructor(dataDir: string, durability: Durability, progress: (line: string) => void = () => {}) {
    if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
      throw new StorageError("NOT_A_DIRECTORY", `data dir ${dataDir} does not exist or is not a directory`);
    }
    this.location = join(dataDir, "ezra.db");
    checkWritable(dataDir, this.location);
    this.lock = takeDataDirLock(dataDir);
    try {
      // Read-only first: a foreign or damaged file must be rejected without being written to.
      inspectExisting(this.location, SCHEMA_VERSION);
      this.db = new Database(this.location, { create: true, strict: true });
      this.db.exec("PRAGMA busy_timeout = 5000");
      // NORMAL in both modes: with --durability full, commit() itself fdatasyncs the WAL after
      // each COMMIT that wrote. SQLite's FULL syncs with fsync(), which here also journals the
      // file's mtime at every commit (this build of SQLite has no fdatasync).
      this.db.exec("PRAGMA synchronous = NORMAL");
      this.syncEachCommit = durability === "full";
      // WAL before the schema: created in rollback-journal mode, a power cut between the first
      // start and the first write brought ezra.db-journal back as a hot journal that the
      // read-only preflight cannot roll back (found by test/power-loss.test.ts).
      this.db.exec("PRAGMA journal_mode = WAL");
      // Each time the WAL starts over, its file is cut back to 64 MiB: one huge transaction (a
      // migration, a large EXEC) must not leave a WAL of its size behind for the server's life.
      this.db.exec(`PRAGMA journal_size_limit = ${WAL_BYTES_KEPT}`);
      migrate(this.db, this.location, progress);
      // The new names (ezra.db, -wal, -shm, ezra.lock) survive a power cut only once their
      // directory is synced; SQLite syncs it for the WAL's creation, not for the database's.
      syncPath(dataDir);
      // The checkpointer thread keeps the WAL short; this in-turn auto-checkpoint is only its
      // backstop, so it is set high (64 MiB of WAL): at 4000 pages it still fired under load,
      // stalling turns (8x8, normal: ~33.6k -> ~37.5k tasks/s with 16000).
      this.db.exec("PRAGMA wal_autocheckpoint = 16000");
      this.db.exec("PRAGMA cache_size = -65536");
      this.sql = prepareAll(this.db);
      this.reads = prepareReads(this.db);
      this.claims = prepareClaims(this.db);
      this.pushes = new PushWriter(this.db, (queue) => this.key(queue));
      for (const statements of [this.sql, this.reads, this.claims]) this.pushes.writeBefore(statements);
      this.checkpointer = new Checkpointer(this.location);
    } catch (err) {
      this.lock.close();
      throw this.openFailure(err);
    }
  }

  private openFailure(err: unknown): unknown {
    if (!(err instanceof SQLiteError)) return err;
    return new StorageError(err.code === "SQLITE_CORRUPT" ? "CORRUPT" : "FAILED", `cannot open ${this.location}: ${err.message} (${err.code})`);
  }

  // --- the turn ------------------------------------------------------------------------

  begin(): void {
    this.sql.begin.run();
    this.changesAtBegin = this.totalChanges();
  }

  commit(durable: boolean): boolean {
    const wrote = this.wroteSinceBegin();
    this.sql.commit.run();
    // A transaction that changed no row leaves the WAL untouched (no write, no fsync: measured
    // with strace); it must not wake the checkpoint thread either.
    if (wrote) {
      // Not durable: nobody waits on it; the next durable commit's fdatasync covers it too.
      if (this.syncEachCommit && durable) this.syncWal();
      this.checkpointer.committed();
    }
    return wrote;
  }

  /**
   * Makes the commit just written durable: fdatasync of the WAL, which holds it whole (frames
   * and, after the WAL started over, its new header). A checkpoint never copies unsynced frames
   * into ezra.db (SQLite syncs the WAL first), so a power cut before this returns loses only
   * this commit, whose replies have not gone out. A failure is the turn's failure.
   */
  private syncWal(): void {
    try {
      if (this.walFd < 0) this.walFd = openSync(`${this.location}-wal`, "r");
      fdatasyncSync(this.walFd);
    } catch (err) {
      throw new StorageError("FAILED", `fdatasync of ${this.location}-wal failed, so the last commit may not be on disk: ${(err as Error).message}`);
    }
  }

  rollback(): void {
    this.pushes.drop();
    if (this.db.inTransaction) this.sql.rollback.run();
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  wroteSinceBegin(): boolean {
    return this.totalChanges() !== this.changesAtBegin;
  }

  private totalChanges(): number {
    return this.sql.totalChanges.get()?.n ?? 0;
  }

  failureOf(err: unknown): StorageError | null {
    if (err instanceof StorageError) return err;
    if (err instanceof SQLiteError) {
      return new StorageError(err.code === "SQLITE_CORRUPT" ? "CORRUPT" : "FAILED", `${err.message} (${err.code})`);
    }
    return null;
  }

  close(): void {
    if (this.walFd >= 0) closeSync(this.walFd);
    this.walFd = -1;
    this.checkpointer.close();
    this.db.close();
    this.lock.close();
  }

  // --- start-up ------------------------------------------------------------------------

  releaseAllInFlight(release: Release): void {
    try {
      this.db.transaction(() => {
        this.sql.releaseAllInFlight.run({ now: release.now, def: release.defaultMaxAttempts, reason: release.reason });
      })();
    } catch (err) {
      throw this.openFailure(err);
    }
  }

  queues(): QueueRecord[] {
    const rows = this.sql.allQueues.all() as QueueRow[];
    this.ids = new Map(rows.map((row) => [row.name, row.id]));
    this.names = new Map(rows.map((row) => [row.id, row.name]));
    // One scan of task_state in key order (the table's own order: no sort).
    this.waiting.load(this.sql.waitingScan.iterate());
    return rows.map((row) => ({
      name: row.name,
      lastId: { ms: row.last_ms, seq: row.last_seq },
      entriesAdded: row.entries_added,
      fieldsBytesMax: row.fields_bytes_max,
      maxDeletedId: { ms: row.max_deleted_ms, seq: row.max_deleted_seq },
      visibilityTimeoutMs: row.visibility_timeout_ms,
      maxAttempts: row.max_attempts,
      retentionMs: row.retention_ms,
      createdAt: row.created_at,
    }));
  }

  groupNames(queue: string): string[] {
    return this.sql.groupsOf.all(queue).map((g) => g.name);
  }

  // --- keys ----------------------------------------------------------------------------

  /** The integer key tasks of `name` (a queue or its dead view) are filed under; -1: no such queue. */
  private key(name: string): number {
    const dead = name.endsWith(DEAD_SUFFIX);
    const id = this.ids.get(dead ? name.slice(0, -DEAD_SUFFIX.length) : name);
    return id === undefined ? -1 : id * 2 + (dead ? 1 : 0);
  }

  private nameOf(key: number): string {
    return (this.names.get(key >> 1) ?? "") + (key & 1 ? DEAD_SUFFIX : "");
  }

  /** `n` waiting tasks of `key` were deleted or taken: count them out, and drop stale entries once they pile up. */
  private noLongerWaiting(key: number, n: number): void {
    if (this.waiting.removed(key, n)) this.waiting.reload(key, this.sql.waitingOf.iterate(key));
  }

  /** A task released by a lease's end: back in its key's waiting order, and reported. */
  private moved(row: MovedRow): Moved {
    if (isWaiting(row.status)) this.waiting.add(row.key, row.ms, row.seq);
    return { queue: this.nameOf(row.key), state: STATE_OF[row.status] };
  }

  // --- queues and groups ---------------------------------------------------------------

  createQueue(name: string, createdAt: number): void {
    const id = this.sql.insertQueue.get(name, createdAt)!.id;
    this.ids.set(name, id);
    this.names.set(id, name);
  }

  saveQueueProgress(q: QueueRecord): void {
    this.sql.saveQueueIds.run(this.ids.get(q.name) ?? -1, q.lastId.ms, q.lastId.seq, q.entriesAdded, q.fieldsBytesMax, q.maxDeletedId.ms, q.maxDeletedId.seq);
  }

  saveQueueSettings(q: QueueRecord): void {
    this.sql.saveQueueSettings.run(this.ids.get(q.name) ?? -1, q.visibilityTimeoutMs, q.maxAttempts, q.retentionMs);
  }

  deleteQueue(name: string): void {
    const id = this.ids.get(name);
    if (id !== undefined) {
      this.reads.deleteTasks.run(id * 2);
      this.reads.deleteTasks.run(id * 2 + 1);
      this.waiting.forget(id * 2);
      this.waiting.forget(id * 2 + 1);
      this.reads.deleteQueue.run(id);
      this.ids.delete(name);
      this.names.delete(id);
    }
    this.reads.deleteConsumers.run(name);
    this.reads.deleteGroups.run(name);
  }

  deleteTasksOf(name: string): void {
    const key = this.key(name);
    this.reads.deleteTasks.run(key);
    this.waiting.forget(key);
  }

  createGroup(queue: string, group: string, createdAt: number): void {
    this.sql.insertGroup.run(queue, group, createdAt);
  }

  deleteGroup(queue: string, group: string): void {
    this.claims.deleteGroupConsumers.run(queue, group);
    this.claims.deleteGroup.run(queue, group);
  }

  // --- consumers -----------------------------------------------------------------------

  touchConsumer(queue: string, group: string, consumer: string, seenAt: number, activeAt: number | null): void {
    this.sql.touchConsumer.run(queue, group, consumer, seenAt, activeAt);
  }

  createConsumer(queue: string, group: string, consumer: string, seenAt: number): boolean {
    return this.claims.insertConsumer.run(queue, group, consumer, seenAt).changes > 0;
  }

  deleteConsumer(queue: string, group: string, consumer: string): void {
    this.claims.deleteConsumer.run(queue, group, consumer);
  }

  consumerSeenAt(queue: string, group: string, consumer: string): number | null {
    return this.claims.consumerSeen.get(queue, group, consumer)?.seen_at ?? null;
  }

  saveSeenAt(seen: { queue: string; group: string; name: string; at: number }[]): void {
    for (const s of seen) this.claims.saveSeen.run(s.queue, s.group, s.name, s.at);
  }

  consumers(queue: string, group: string): ConsumerRecord[] {
    return this.claims.consumersOf.all(queue, group).map((c) => ({ name: c.name, seenAt: c.seen_at, activeAt: c.active_at }));
  }

  consumerCount(queue: string, group: string): number {
    return this.claims.countConsumers.get(queue, group)?.n ?? 0;
  }

  // --- tasks ---------------------------------------------------------------------------

  insertTask(t: NewTask): void {
    const key = this.key(t.queue);
    this.pushes.add(t);
    const bytes = CACHED_TASK_OVERHEAD_BYTES + (typeof t.fields === "string" ? t.fields.length * 2 : t.fields.byteLength);
    this.waiting.add(key, t.ms, t.seq, { fields: t.fields, maxAttempts: t.maxAttempts, bytes });
  }

  /**
   * Takes the next ids from the waiting order and claims each with one keyed UPDATE (measured
   * cheaper than one statement over a list of keys: docs/storage.md); an entry whose row is no
   * longer waiting is skipped. `from` needs no SQL: a queue's key holds no dead task and a dead
   * view's no available one.
   */
  deliver(name: string, _from: "available" | "dead", count: number, d: Delivery): TaskRecord[] {
    const key = this.key(name);
    const order = this.waiting.get(key);
    const tasks: TaskRecord[] = [];
    if (!order) return tasks;
    const status = STATUS[d.state];
    const { claimRow, task } = this.sql;
    while (tasks.length < count && order.count > 0) {
      const id = order.shift();
      if (!id) break;
      const claimed = claimRow.run(key, id.ms, id.seq, status, d.attemptsAdded, d.worker, d.group, d.leaseUntil, d.deliveredAt, d.finishedAt, d.purgeAt);
      if (claimed.changes === 0) continue; // a stale entry: deleted or taken since it was queued
      order.count--;
      // A cached task was never delivered: its attempts are this delivery's.
      const { cached } = id;
      if (cached) tasks.push({ ms: id.ms, seq: id.seq, fields: cached.fields, attempts: d.attemptsAdded, max_attempts: cached.maxAttempts });
      else tasks.push(task.get(key, id.ms, id.seq)!);
    }
    return tasks;
  }

  nextSizes(name: string, _from: "available" | "dead", count: number): number[] {
    const key = this.key(name);
    const ids = this.waiting.get(key)?.peek(count) ?? [];
    return ids.map((id) => this.sql.payloadSize.get(key >> 1, id.ms, id.seq)?.bytes ?? 0);
  }

  /** One UPDATE per id: measured faster than one statement over a set of keys (docs/storage.md). */
  ack(name: string, ids: readonly Id[], finishedAt: number, purgeAt: number | null): number {
    const key = this.key(name);
    let acked = 0;
    if (purgeAt === null) {
      for (const id of ids) acked += this.sql.deleteInFlight.run(key, id.ms, id.seq).changes;
    } else {
      for (const id of ids) acked += this.sql.ack.run(key, id.ms, id.seq, finishedAt, purgeAt).changes;
    }
    return acked;
  }

  release(name: string, id: Id, r: Release): Moved | null {
    const rows = this.sql.release.all({ key: this.key(name), ms: id.ms, seq: id.seq, now: r.now, def: r.defaultMaxAttempts, reason: r.reason });
    return rows.length > 0 ? this.moved(rows[0]) : null;
  }

  releaseExpired(r: Release, limit: number): Moved[] {
    return this.sql.releaseExpired.all({ now: r.now, limit, def: r.defaultMaxAttempts, reason: r.reason }).map((row) => this.moved(row));
  }

  releaseConsumer(name: string, group: string, worker: string, to: "available" | "dead", giveBack: boolean, now: number, reason: string): number {
    const key = this.key(name);
    const params = { key, grp: group, worker, back: STATUS[to], giveBack: giveBack ? 1 : 0, now, reason };
    const released = this.claims.releaseConsumer.all(params);
    for (const id of released) this.waiting.add(key, id.ms, id.seq);
    return released.length;
  }

  taskState(name: string, id: Id): TaskState | null {
    const status = this.sql.taskStatus.get(this.key(name), id.ms, id.seq)?.status;
    return status === undefined ? null : STATE_OF[status];
  }

  deleteTask(name: string, id: Id): number {
    const key = this.key(name);
    const deleted = this.sql.deleteTask.all(key, id.ms, id.seq);
    this.noLongerWaiting(key, waitingAmong(deleted));
    return deleted.length;
  }

  purgeDone(now: number, limit: number): number {
    return this.sql.purgeDone.run(now, limit).changes;
  }

  expireTtl(now: number, limit: number): Moved[] {
    const expired = this.sql.expireTtl.all(now, limit);
    for (const row of expired) this.noLongerWaiting(row.key, waitingAmong([row]));
    return expired.map((row) => ({ queue: this.nameOf(row.key), state: STATE_OF[row.status] }));
  }

  nextDue(): number | null {
    let next = Infinity;
    for (const stmt of [this.sql.nextLease, this.sql.nextExpiry, this.sql.nextPurge]) {
      const t = stmt.get()?.t;
      if (t != null && t < next) next = t;
    }
    return next === Infinity ? null : next;
  }

  trimToLength(name: string, maxLength: number, limit: number): number {
    const key = this.key(name);
    const deleted = this.sql.trimToLength.all(key, maxLength, limit);
    this.noLongerWaiting(key, waitingAmong(deleted));
    return deleted.length;
  }

  trimBelowId(name: string, minId: Id, limit: number): number {
    const key = this.key(name);
    const deleted = this.sql.trimBelowId.all(key, minId.ms, minId.seq, limit);
    this.noLongerWaiting(key, waitingAmong(deleted));
    return deleted.length;
  }

  // --- reads ---------------------------------------------------------------------------

  /** Waiting tasks (available, or dead in a dead view) are counted in memory, in-flight ones by task_held. */
  countState(name: string, state: TaskState): number {
    const key = this.key(name);
    if (state === "in_flight") return this.sql.countHeld.get(key)?.n ?? 0;
    if (state === (key & 1 ? "dead" : "available")) return this.waiting.get(key)?.count ?? 0;
    return this.countByState(name)[state] ?? 0;
  }

  countAvailableUpTo(name: string, max: number): number {
    return Math.min(max, this.countState(name, "available"));
  }

  countByState(name: string): Partial<Record<TaskState, number>> {
    const counts: Partial<Record<TaskState, number>> = {};
    for (const row of this.sql.countByStatus.all(this.key(name))) counts[STATE_OF[row.status]] = row.n;
    return counts;
  }

  firstTask(name: string): TaskRecord | null {
    return this.sql.firstTask.get(this.key(name)) ?? null;
  }

  lastTask(name: string): TaskRecord | null {
    return this.sql.lastTask.get(this.key(name)) ?? null;
  }

  hasTasks(name: string): boolean {
    return this.reads.hasTasks.get(this.key(name)) != null;
  }

  range(name: string, start: Id, end: Id, count: number, reverse: boolean): TaskRecord[] {
    const stmt = reverse ? this.reads.rangeBackward : this.reads.rangeForward;
    return stmt.all(this.key(name), start.ms, start.seq, end.ms, end.seq, count);
  }

  newestInState(name: string, state: TaskState): Id | null {
    const key = this.key(name);
    if (state === "in_flight") return this.claims.newestHeld.get(key) ?? null;
    if (state === "done") return this.claims.newestDone.get(key) ?? null;
    throw new Error(`newestInState: ${state} is not asked for`);
  }

  // --- a group's in-flight tasks -------------------------------------------------------

  ownPending(name: string, group: string, worker: string, after: Id, count: number): TaskRecord[] {
    return this.sql.ownPending.all(this.key(name), worker, group, after.ms, after.seq, count);
  }

  pendingByWorker(name: string, group: string): { worker: string; count: number }[] {
    return this.claims.pendingByConsumer.all(this.key(name), group).map((r) => ({ worker: r.worker, count: r.n }));
  }

  pendingCount(name: string, group: string): number {
    return this.claims.countPending.get(this.key(name), group)?.n ?? 0;
  }

  pendingBounds(name: string, group: string): { first: Id; last: Id } | null {
    const key = this.key(name);
    const first = this.claims.firstPending.get(key, group);
    const last = this.claims.lastPending.get(key, group);
    return first && last ? { first, last } : null;
  }

  pending(q: PendingQuery): PendingRecord[] {
    const { start, end } = q;
    const key = this.key(q.queue);
    const rows =
      q.worker === null
        ? this.claims.pendingRange.all(key, q.group, start.ms, start.seq, end.ms, end.seq, q.deliveredBy, q.count)
        : this.claims.pendingRangeOf.all(key, q.group, start.ms, start.seq, end.ms, end.seq, q.deliveredBy, q.count, q.worker);
    return rows.map((r) => ({ ms: r.ms, seq: r.seq, worker: r.worker, deliveredAt: r.delivered_at, attempts: r.attempts }));
  }

  pendingFrom(name: string, group: string, start: Id, count: number): (Id & { deliveredAt: number })[] {
    return this.claims.autoclaimScan.all(this.key(name), group, start.ms, start.seq, count).map((r) => ({
      ms: r.ms,
      seq: r.seq,
      deliveredAt: r.delivered_at,
    }));
  }

  private takeoverParams(t: Takeover) {
    return {
      key: this.key(t.queue),
      grp: t.group,
      worker: t.worker,
      lease: t.leaseUntil,
      delivered: t.deliveredAt,
      cutoff: t.deliveredBy,
      retry: t.retryCount,
      justid: t.justId ? 1 : 0,
      force: t.anyGroup ? 1 : 0,
      inc: t.attemptsAdded,
      ms: t.ms,
      seq: t.seq,
    };
  }

  takeOver(t: Takeover): TaskRecord | null {
    return this.withFields(t.queue, this.claims.claimPending.get(this.takeoverParams(t)));
  }

  /** The task's waiting-order entry goes stale; the count drops now. */
  takeWaiting(t: Takeover, from: "available" | "dead"): TaskRecord | null {
    const taken = this.claims.claimWaiting.get({ ...this.takeoverParams(t), from: STATUS[from] });
    if (taken) {
      this.noLongerWaiting(this.key(t.queue), 1);
      this.waiting.get(this.key(t.queue))?.dropCache();
    }
    return this.withFields(t.queue, taken);
  }

  private withFields(name: string, row: Omit<TaskRecord, "fields"> | null): TaskRecord | null {
    if (!row) return null;
    const payload = this.claims.fieldsOf.get(this.key(name) >> 1, row.ms, row.seq);
    return { ...row, fields: payload?.fields ?? "[]" };
  }
}

// An exclusive SQLite lock on ezra.lock: the OS drops it when the process dies, so a crash
// never leaves a stale lock, and a second server on the same dir fails at once.
function takeDataDirLock(dataDir: string): Database {
  const lock = new Database(join(dataDir, "ezra.lock"), { create: true });
  try {
    lock.exec("PRAGMA locking_mode = EXCLUSIVE");
    lock.exec("PRAGMA busy_timeout = 0");
    lock.exec("BEGIN EXCLUSIVE");
    lock.exec("CREATE TABLE IF NOT EXISTS held (pid INTEGER)");
    lock.exec("COMMIT");
  } catch {
    lock.close();
    throw new StorageError("LOCKED", `another ezra server is already using data dir ${dataDir} (ezra.lock is held)`);
  }
  return lock;
}

const isWaiting = (status: number) => status === STATUS.available || status === STATUS.dead;
const waitingAmong = (rows: { status: number }[]) => rows.filter((row) => isWaiting(row.status)).length;
