// The SQLite driver: opens ezra.db (WAL, schema by user_version: migrate.ts) in a data dir it
// locks, and answers the Driver interface with statements prepared once (statements.ts,
// claims-sql.ts, reads-sql.ts). Waiting tasks are ordered in memory (waiting.ts), so are
// in-flight ones (held.ts) and retention's due times (retention.ts); pushes are written in
// batches (pushes.ts), checkpoints run on a thread (checkpointer.ts); with
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
import { prepareAll, type QueueRow, STATE_OF, STATUS, type Statements } from "./statements.ts";
import { type HeldTask, HeldTasks } from "./held.ts";
import { PushWriter } from "./pushes.ts";
import { RetentionBuckets } from "./retention.ts";
import { type WaitingId, WaitingOrders } from "./waiting.ts";

/** Payloads of pushed, not yet claimed tasks held in memory (waiting.ts), across all queues. */
const PAYLOAD_CACHE_BYTES_MAX = 16 * 1024 * 1024;
/** The WAL file's size after it starts over; the in-turn auto-checkpoint (16,000 pages) bounds it under load. */
const WAL_BYTES_KEPT = 64 * 1024 * 1024;
/** What a cached task costs beside its payload (the entry object and its slot; UTF-16 strings count 2 bytes a character). */
const CACHED_TASK_OVERHEAD_BYTES = 80;
/** Default time a claim stays in memory only before it is written (docs/storage.md). */
export const CLAIM_WRITE_DELAY_MS = 1000;
/** Rows a background walk (retention's, or the release of tasks left in flight) reads per row it may change. */
const WALK_ROWS_PER_RESULT = 10;

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
  private readonly waiting = new WaitingOrders(PAYLOAD_CACHE_BYTES_MAX, (key, after, limit) => this.readWaiting(key, after, limit));
  private readonly held = new HeldTasks();
  /**
   * Keys whose rows include tasks left in flight by the last run, and where the walk that
   * releases them goes on (releaseExpired). A claim that reads such a row first releases it.
   */
  private readonly leftovers = new Map<number, Id>();
  /** The release of tasks left in flight by the last run (its time, the default max attempts). */
  private restart: Release = { now: 0, defaultMaxAttempts: 1, reason: null };
  private readonly retention = new RetentionBuckets();
  private readonly pushes: PushWriter;

  /** How long a claim may stay in memory only (held.ts) before the timer writes it; 0: at once. */
  readonly claimWriteDelayMs: number;

  constructor(dataDir: string, durability: Durability, progress: (line: string) => void = () => {}, claimWriteDelayMs = CLAIM_WRITE_DELAY_MS) {
    this.claimWriteDelayMs = claimWriteDelayMs;
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
    this.held.beginTurn();
  }

  commit(durable: boolean): boolean {
    const wrote = this.wroteSinceBegin();
    this.sql.commit.run();
    this.held.endTurn();
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
      throw new StorageError("NOT_DURABLE", `fdatasync of ${this.location}-wal failed: ${(err as Error).message}`);
    }
  }

  /** Undoes the turn, in the database and in what is held in memory. Safe when SQLite already rolled back. */
  rollback(): void {
    this.pushes.drop();
    this.held.undoTurn();
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
    this.writeAllClaims();
    if (this.walFd >= 0) closeSync(this.walFd);
    this.walFd = -1;
    this.checkpointer.close();
    this.db.close();
    this.lock.close();
  }

  /**
   * A clean stop writes the claims still held in memory only, so a restart after SIGTERM counts
   * every delivery (closing the last connection checkpoints and syncs them). A failure leaves
   * the file as consistent as a crash would: those deliveries are forgotten.
   */
  private writeAllClaims(): void {
    const pending = this.held.unwrittenSince(Infinity, Infinity);
    if (pending.length === 0 || this.db.inTransaction) return;
    try {
      this.db.transaction(() => {
        for (const { key, task } of pending) this.writeHeldClaim(key, task);
      })();
    } catch {
      // Nothing to undo: the transaction rolled back whole.
    }
  }

  // --- start-up ------------------------------------------------------------------------

  /**
   * Every queue, with the in-memory state rebuilt: each key's waiting count from one walk of
   * task_state (ids are read later, as claims reach them: waiting.ts), retention marked to walk
   * every key. At start (`recovery`) tasks left in flight count as waiting: each is released when
   * a claim reads it or the background walk reaches it (releaseExpired), so the start writes
   * nothing. After a rollback the held set is kept (rollback() restored it).
   */
  queues(recovery: Release | null): QueueRecord[] {
    try {
      const rows = this.sql.allQueues.all() as QueueRow[];
      this.ids = new Map(rows.map((row) => [row.name, row.id]));
      this.names = new Map(rows.map((row) => [row.id, row.name]));
      const counts = this.sql.countAtStart.all();
      if (recovery) {
        this.held.clear();
        this.leftovers.clear();
        this.restart = recovery;
        this.waiting.load(counts);
        for (const c of counts) if (c.held > 0) this.leftovers.set(c.key, { ms: -1, seq: 0 });
      } else {
        // After a rollback the held set is as before the turn (held.ts journals it). Every live
        // row it does not hold waits, counting tasks left in flight by the last run; their walk
        // starts over, since releases the rollback undid may lie behind its cursor.
        this.waiting.load(counts.map((c) => ({ key: c.key, n: c.n - this.held.count(c.key) })));
        for (const key of this.leftovers.keys()) this.leftovers.set(key, { ms: -1, seq: 0 });
      }
      this.retention.reset(rows.flatMap((row) => [row.id * 2, row.id * 2 + 1]));
      return rows.map((row) => ({
        name: row.name,
        lastId: { ms: row.last_ms, seq: row.last_seq },
        entriesAdded: row.entries_added,
        fieldsBytesMax: row.fields_bytes_max,
        maxDeletedId: { ms: row.max_deleted_ms, seq: row.max_deleted_seq },
        visibilityTimeoutMs: row.visibility_timeout_ms,
        maxAttempts: row.max_attempts,
        retentionMs: row.retention_ms,
        entryFields: row.entry_fields === "plain" || row.entry_fields === "ezra" ? row.entry_fields : null,
        createdAt: row.created_at,
      }));
    } catch (err) {
      throw recovery ? this.openFailure(err) : err;
    }
  }

  /**
   * The waiting order's reader: the next live rows of `key` in id order. A row in flight that
   * nobody holds was left so by the last run: it is released here, before it is offered.
   */
  private readWaiting(key: number, after: Id, limit: number): { ids: Id[]; last: Id | null } {
    const rows = this.sql.liveAfter.all(key, after.ms, after.seq, limit);
    const ids: Id[] = [];
    for (const row of rows) {
      // Held (its claim may not be written yet, so the row can read as waiting): not waiting.
      if (this.held.get(key, row.ms, row.seq)) continue;
      if (row.status !== STATUS.in_flight || this.releaseLeftover(key, row) === key) ids.push(row);
    }
    const last = rows.length < limit ? null : rows[rows.length - 1];
    return { ids, last: last && { ms: last.ms, seq: last.seq } };
  }

  /**
   * Ends the lease of a task in flight since the last run. Its waiting count is already its
   * key's; a task that dies moves to the dead view (count and order). Returns its new key.
   */
  private releaseLeftover(key: number, id: Id): number {
    const to = this.releaseRow(key, id, this.restart, null);
    if (to >= 0 && to !== key) {
      this.waiting.removed(key, 1);
      this.waiting.add(to, id.ms, id.seq);
    }
    return to;
  }

  /**
   * Ends one lease in the database: the key the task now waits under, or -1 if it was not in
   * flight. `held`: the claim as held in memory (written or not); null for a task the last run
   * left in flight, whose row must still read in flight.
   */
  private releaseRow(key: number, id: Id, r: Release, held: HeldTask | null): number {
    const args = [key, id.ms, id.seq, r.now, r.reason, r.defaultMaxAttempts, held?.attempts ?? null, held ? 1 : 0,
      held?.worker ?? null, held?.group ?? null, held?.deliveredAt ?? null] as const;
    if (this.sql.releaseToWaiting.run(...args).changes > 0) return key;
    if (this.sql.releaseToDead.run(...args).changes > 0) return key | 1;
    return -1;
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
    if (this.waiting.removed(key, n)) this.waiting.reload(key);
  }

  /** Ends a held task's lease: no longer held, back in the waiting order of its (new) key, and reported. */
  private releaseHeld(key: number, task: HeldTask, r: Release): Moved | null {
    this.held.drop(key, task.ms, task.seq);
    const id = { ms: task.ms, seq: task.seq };
    const to = this.releaseRow(key, id, r, task);
    if (to < 0) return null;
    this.waiting.add(to, id.ms, id.seq);
    return { queue: this.nameOf(to), state: to & 1 ? "dead" : "available" };
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
    this.sql.saveQueueSettings.run(this.ids.get(q.name) ?? -1, q.visibilityTimeoutMs, q.maxAttempts, q.retentionMs, q.entryFields);
  }

  deleteQueue(name: string): void {
    const id = this.ids.get(name);
    if (id !== undefined) {
      this.reads.deleteTasks.run(id * 2);
      this.reads.deleteTasks.run(id * 2 + 1);
      for (const key of [id * 2, id * 2 + 1]) {
        this.waiting.forget(key);
        this.held.forget(key);
        this.leftovers.delete(key);
      }
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
    this.held.forget(key);
    this.leftovers.delete(key);
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

  saveSeenAt(seen: { queue: string; group: string; name: string; at: number; activeAt: number | null }[]): void {
    for (const s of seen) this.claims.saveSeen.run(s.queue, s.group, s.name, s.at, s.activeAt);
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
   * Takes the next ids from the waiting order and holds each (holdClaim): a task pushed since
   * the start costs no statement, others one keyed read of the payload. An entry whose task is
   * no longer waiting is skipped. `from` needs no SQL: a queue's key holds no dead task and a
   * dead view's no available one.
   */
  deliver(name: string, _from: "available" | "dead", count: number, d: Delivery): TaskRecord[] {
    const key = this.key(name);
    const order = this.waiting.get(key);
    const tasks: TaskRecord[] = [];
    if (!order) return tasks;
    const holds = d.state === "in_flight";
    const { task, waitingTask } = this.sql;
    while (tasks.length < count && order.count > 0) {
      // Read before shift(): taking the last entry clears the mark, and that entry may be stale.
      const maybeStale = order.maybeStale;
      const id = order.shift();
      if (!id) break;
      // A stale entry (its task is held already: taken and given back, read twice) is skipped.
      if (this.held.get(key, id.ms, id.seq)) continue;
      let claimed: TaskRecord | null;
      if (!holds) claimed = this.deliverDone(key, id, d);
      else if (id.cached && !maybeStale) {
        // Pushed since the start and never delivered: its attempts are this delivery's.
        claimed = { ms: id.ms, seq: id.seq, fields: id.cached.fields, attempts: d.attemptsAdded, max_attempts: id.cached.maxAttempts };
      } else {
        // Read back (payload, attempts), and only while it still waits: an entry may be stale.
        const row = maybeStale ? waitingTask.get(key, id.ms, id.seq) : task.get(key, id.ms, id.seq);
        claimed = row && { ...row, attempts: row.attempts + d.attemptsAdded };
      }
      if (!claimed) continue;
      order.count--;
      tasks.push(claimed);
      if (holds) this.holdClaim(key, claimed, d);
    }
    return tasks;
  }

  /**
   * A claim is held in memory only, and written later (its ack, its release, or the timer once
   * it is older than the claim write delay): most tasks are acked first, so their claim costs no
   * statement. What a crash costs is the attempt of each delivery not written yet (docs/reliability.md).
   */
  private holdClaim(key: number, claimed: TaskRecord, d: Delivery): void {
    const { worker, group, deliveredAt, leaseUntil } = d;
    const { ms, seq, attempts } = claimed;
    // With no delay the claim is written in its turn, so it never joins the unwritten list.
    const written = this.claimWriteDelayMs === 0;
    if (written) this.sql.writeClaim.run(key, ms, seq, attempts, worker, group, leaseUntil, deliveredAt);
    this.held.hold(key, { ms, seq, group, worker, deliveredAt, attempts, leaseUntil, written });
  }

  private writeHeldClaim(key: number, held: HeldTask): void {
    this.sql.writeClaim.run(key, held.ms, held.seq, held.attempts, held.worker, held.group, held.leaseUntil, held.deliveredAt);
    this.held.markWritten(key, held);
  }

  /** A delivery that acks as it delivers (NOACK, LPOP): written at once, done. */
  private deliverDone(key: number, id: WaitingId, d: Delivery): TaskRecord | null {
    const updated = this.sql.claimRow.run(key, id.ms, id.seq, STATUS[d.state], d.attemptsAdded, d.worker, d.group, d.leaseUntil, d.deliveredAt, d.finishedAt, d.purgeAt);
    if (updated.changes === 0) return null; // a stale entry: deleted or taken since it was queued
    if (d.purgeAt !== null) this.retention.add(key, id.ms, d.purgeAt);
    const { cached } = id;
    return cached
      ? { ms: id.ms, seq: id.seq, fields: cached.fields, attempts: d.attemptsAdded, max_attempts: cached.maxAttempts }
      : this.sql.task.get(key, id.ms, id.seq);
  }

  nextSizes(name: string, _from: "available" | "dead", count: number): number[] {
    const key = this.key(name);
    const ids = this.waiting.get(key)?.peek(count) ?? [];
    return ids.map((id) => this.sql.payloadSize.get(key >> 1, id.ms, id.seq)?.bytes ?? 0);
  }

  /**
   * One UPDATE per held id: measured faster than one statement over a set of keys
   * (docs/storage.md). An id not held costs no statement.
   */
  ack(name: string, ids: readonly Id[], finishedAt: number, purgeAt: number | null): number {
    const key = this.key(name);
    let acked = 0;
    for (const id of ids) {
      const held = this.held.get(key, id.ms, id.seq);
      if (!held) continue;
      this.held.drop(key, id.ms, id.seq);
      if (purgeAt === null) acked += this.sql.deleteKeyed.run(key, id.ms, id.seq).changes;
      else {
        // The claim itself may never have been written: its columns come along.
        acked += this.sql.ack.run(key, id.ms, id.seq, held.attempts, held.worker, held.group, held.deliveredAt, finishedAt, purgeAt).changes;
        this.retention.add(key, id.ms, purgeAt);
      }
    }
    return acked;
  }

  release(name: string, id: Id, r: Release): Moved | null {
    const key = this.key(name);
    const held = this.held.get(key, id.ms, id.seq);
    return held ? this.releaseHeld(key, held, r) : null;
  }

  /**
   * Leases that ended, earliest first, from the held set's deadline heap. Then, while tasks
   * left in flight by the last run remain unread, a bounded walk releases more of them.
   */
  releaseExpired(r: Release, limit: number): Moved[] {
    const moved: Moved[] = [];
    for (const { key, task } of this.held.expired(r.now, limit)) {
      if (task.gone) continue; // listed twice
      const m = this.releaseHeld(key, task, r);
      if (m) moved.push(m);
    }
    if (moved.length < limit) this.walkLeftovers(limit - moved.length, moved);
    // Claims held longer than the delay are written, so the file shows them in flight.
    for (const { key, task } of this.held.unwrittenSince(r.now - this.claimWriteDelayMs, limit)) this.writeHeldClaim(key, task);
    return moved;
  }

  /** Releases tasks the last run left in flight, walking each such key in id order, `limit` at most. */
  private walkLeftovers(limit: number, moved: Moved[]): void {
    let budget = limit * WALK_ROWS_PER_RESULT;
    for (const [key, after] of this.leftovers) {
      if (budget <= 0 || limit <= 0) return;
      const rows = this.sql.walkKey.all(key, after.ms, after.seq, budget);
      budget -= rows.length;
      let last: Id | null = null;
      for (const row of rows) {
        if (limit <= 0) break;
        last = row;
        if (row.status !== STATUS.in_flight || this.held.get(key, row.ms, row.seq)) continue;
        // Unread by the waiting order (it releases what it reads): counted already, read later.
        const to = this.releaseLeftover(key, row);
        if (to < 0) continue;
        moved.push({ queue: this.nameOf(to), state: to & 1 ? "dead" : "available" });
        limit--;
      }
      if (last && (rows.length > 0 && (budget <= 0 || limit <= 0))) this.leftovers.set(key, { ms: last.ms, seq: last.seq });
      else this.leftovers.delete(key);
    }
  }

  releaseConsumer(name: string, group: string, worker: string, to: "available" | "dead", giveBack: boolean, now: number, reason: string): number {
    const key = this.key(name);
    const theirs = [...(this.held.group(key, group)?.from(FIRST_ID) ?? [])].filter((t) => t.worker === worker);
    let released = 0;
    for (const task of theirs) {
      this.held.drop(key, task.ms, task.seq);
      const attempts = Math.max(task.attempts - (giveBack ? 1 : 0), 0);
      const args = [key, task.ms, task.seq, STATUS[to], attempts, task.worker, task.group, task.deliveredAt, now, reason] as const;
      if (this.sql.releaseWithdrawn.run(...args).changes === 0) continue;
      this.waiting.add(key, task.ms, task.seq);
      released++;
    }
    return released;
  }


  /** In flight when held (its row may still read as waiting: held.ts), else as the row says. */
  taskState(name: string, id: Id): TaskState | null {
    const key = this.key(name);
    if (this.held.get(key, id.ms, id.seq)) return "in_flight";
    const status = this.sql.taskStatus.get(key, id.ms, id.seq)?.status;
    // A row in flight that nobody holds was left so by the last run: it counts as waiting.
    if (status === STATUS.in_flight) return key & 1 ? "dead" : "available";
    return status === undefined ? null : STATE_OF[status];
  }

  deleteTask(name: string, id: Id): number {
    const key = this.key(name);
    const deleted = this.sql.deleteTask.all(key, id.ms, id.seq);
    this.removed(key, deleted.map((row) => ({ ms: id.ms, seq: id.seq, status: row.status })));
    return deleted.length;
  }

  /**
   * Deletes up to `limit` done tasks whose retention ended: first walking keys not bucketed since
   * the start (a bounded number of rows per call), then each due bucket's id range by key.
   */
  purgeDone(now: number, limit: number): number {
    let purged = this.walkUnswept(now, limit);
    for (const { second, key, range } of this.retention.due(now)) {
      if (purged >= limit) break;
      const n = this.sql.purgeRange.run(key, range.loMs, range.hiMs, now, limit - purged).changes;
      purged += n;
      // A full batch may have left some behind: the bucket stays for the next sweep.
      if (purged < limit) this.retention.done(second, key);
    }
    return purged;
  }

  /** Retention's walk of keys whose done rows are not bucketed: deletes the due ones, buckets the rest. */
  private walkUnswept(now: number, limit: number): number {
    let budget = limit * WALK_ROWS_PER_RESULT;
    let purged = 0;
    for (const [key, after] of this.retention.unswept) {
      if (budget <= 0 || purged >= limit) break;
      const rows = this.sql.walkKey.all(key, after.ms, after.seq, Math.min(budget, limit * WALK_ROWS_PER_RESULT));
      budget -= rows.length;
      for (const row of rows) {
        if (row.status !== STATUS.done || row.purge_at === null) continue;
        if (row.purge_at <= now && purged < limit) purged += this.sql.deleteTask.run(key, row.ms, row.seq).changes;
        else this.retention.add(key, row.ms, row.purge_at);
      }
      const last = rows[rows.length - 1];
      if (rows.length === 0 || budget > 0) this.retention.unswept.delete(key);
      else this.retention.unswept.set(key, { ms: last.ms, seq: last.seq });
    }
    return purged;
  }

  expireTtl(now: number, limit: number): Moved[] {
    const expired = this.sql.expireTtl.all(now, limit);
    for (const row of expired) this.removed(row.key, [row]);
    return expired.map((row) => ({ queue: this.nameOf(row.key), state: STATE_OF[row.status] }));
  }

  nextDue(): number | null {
    let next = Infinity;
    const now = Date.now();
    const oldestClaim = this.held.oldestUnwritten();
    const claimDue = oldestClaim === null ? null : oldestClaim + this.claimWriteDelayMs;
    for (const t of [this.held.nextLease(), this.sql.nextExpiry.get()?.t, this.retention.next(now), this.leftovers.size > 0 ? now : null, claimDue]) {
      if (t != null && t < next) next = t;
    }
    return next === Infinity ? null : next;
  }

  trimToLength(name: string, maxLength: number, limit: number): number {
    const key = this.key(name);
    const deleted = this.sql.trimToLength.all(key, maxLength, limit);
    this.removed(key, deleted);
    return deleted.length;
  }

  trimBelowId(name: string, minId: Id, limit: number): number {
    const key = this.key(name);
    const deleted = this.sql.trimBelowId.all(key, minId.ms, minId.seq, limit);
    this.removed(key, deleted);
    return deleted.length;
  }

  /**
   * Rows of `key` were deleted: held ones leave the held set, and the waiting count drops by the
   * rest that were waiting, counting tasks the last run left in flight (they count as waiting).
   */
  private removed(key: number, deleted: { ms: number; seq: number; status: number }[]): void {
    let waiting = 0;
    for (const row of deleted) {
      // Held first: a claim not written yet reads as waiting.
      if (this.held.drop(key, row.ms, row.seq)) continue;
      if (isWaiting(row.status) || row.status === STATUS.in_flight) waiting++;
    }
    this.noLongerWaiting(key, waiting);
  }

  // --- reads ---------------------------------------------------------------------------

  /** Waiting tasks (available, or dead in a dead view) and in-flight ones are counted in memory. */
  countState(name: string, state: TaskState): number {
    const key = this.key(name);
    if (state === "in_flight") return this.held.count(key);
    if (state === (key & 1 ? "dead" : "available")) return this.waiting.get(key)?.count ?? 0;
    return this.countByState(name)[state] ?? 0;
  }

  countAvailableUpTo(name: string, max: number): number {
    return Math.min(max, this.countState(name, "available"));
  }

  /**
   * Done tasks are counted in the database; waiting and in-flight ones from memory, which also
   * counts a task the last run left in flight as waiting until its release is written.
   */
  countByState(name: string): Partial<Record<TaskState, number>> {
    const key = this.key(name);
    const counts: Partial<Record<TaskState, number>> = {};
    for (const row of this.sql.countByStatus.all(key)) counts[STATE_OF[row.status]] = row.n;
    counts.in_flight = this.held.count(key);
    counts[key & 1 ? "dead" : "available"] = this.waiting.get(key)?.count ?? 0;
    for (const state of ["in_flight", "available", "dead"] as const) if (counts[state] === 0) delete counts[state];
    return counts;
  }

  firstTask(name: string): TaskRecord | null {
    const key = this.key(name);
    return this.withHeldAttempts(key, this.sql.firstTask.get(key));
  }

  lastTask(name: string): TaskRecord | null {
    const key = this.key(name);
    return this.withHeldAttempts(key, this.sql.lastTask.get(key));
  }

  /** A held task's attempts are held.ts's: its claim may not be written yet. */
  private withHeldAttempts(key: number, row: TaskRecord | null): TaskRecord | null {
    if (!row || this.held.count(key) === 0) return row;
    const held = this.held.get(key, row.ms, row.seq);
    return held && !held.written ? { ...row, attempts: held.attempts } : row;
  }

  hasTasks(name: string): boolean {
    return this.reads.hasTasks.get(this.key(name)) != null;
  }

  range(name: string, start: Id, end: Id, count: number, reverse: boolean): TaskRecord[] {
    const stmt = reverse ? this.reads.rangeBackward : this.reads.rangeForward;
    const key = this.key(name);
    const rows = stmt.all(key, start.ms, start.seq, end.ms, end.seq, count);
    return this.held.count(key) === 0 ? rows : rows.map((row) => this.withHeldAttempts(key, row)!);
  }

  newestInState(name: string, state: TaskState): Id | null {
    const key = this.key(name);
    if (state === "in_flight") return this.held.newest(key);
    if (state === "done") return this.claims.newestDone.get(key) ?? null;
    throw new Error(`newestInState: ${state} is not asked for`);
  }

  // --- a group's in-flight tasks -------------------------------------------------------

  ownPending(name: string, group: string, worker: string, after: Id, count: number): TaskRecord[] {
    const key = this.key(name);
    const tasks: TaskRecord[] = [];
    for (const held of this.held.group(key, group)?.from(after) ?? []) {
      if (tasks.length >= count) break;
      if (held.worker !== worker || (held.ms === after.ms && held.seq === after.seq)) continue;
      const task = this.sql.task.get(key, held.ms, held.seq);
      if (task) tasks.push({ ...task, attempts: held.attempts });
    }
    return tasks;
  }

  pendingByWorker(name: string, group: string): { worker: string; count: number }[] {
    return this.held.group(this.key(name), group)?.byWorker() ?? [];
  }

  pendingCount(name: string, group: string): number {
    return this.held.group(this.key(name), group)?.live ?? 0;
  }

  pendingBounds(name: string, group: string): { first: Id; last: Id } | null {
    const held = this.held.group(this.key(name), group);
    const first = held?.first();
    const last = held?.last();
    return first && last ? { first: { ms: first.ms, seq: first.seq }, last: { ms: last.ms, seq: last.seq } } : null;
  }

  pending(q: PendingQuery): PendingRecord[] {
    const held = this.held.group(this.key(q.queue), q.group)?.range(q.start, q.end, q.deliveredBy, q.worker, q.count) ?? [];
    return held.map((t) => ({ ms: t.ms, seq: t.seq, worker: t.worker, deliveredAt: t.deliveredAt, attempts: t.attempts }));
  }

  pendingFrom(name: string, group: string, start: Id, count: number): (Id & { deliveredAt: number })[] {
    const held = this.held.group(this.key(name), group)?.range(start, LAST_ID, Infinity, null, count) ?? [];
    return held.map((t) => ({ ms: t.ms, seq: t.seq, deliveredAt: t.deliveredAt }));
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

  /**
   * XCLAIM / XAUTOCLAIM of a held task, decided from memory (holder, group, delivery time) and
   * written at once: the holder re-claiming it (a heartbeat) and JUSTID keep the delivery count;
   * another consumer taking it over counts a new delivery.
   */
  takeOver(t: Takeover): TaskRecord | null {
    const key = this.key(t.queue);
    const held = this.held.get(key, t.ms, t.seq);
    if (!held || !(held.group === t.group || t.anyGroup) || held.deliveredAt > t.deliveredBy) return null;
    const attempts = t.retryCount ?? (t.justId || held.worker === t.worker ? held.attempts : held.attempts + t.attemptsAdded);
    const taken = this.holdTaken(key, t, attempts);
    this.writeHeldClaim(key, taken);
    const row = this.sql.task.get(key, t.ms, t.seq);
    return row && { ...row, attempts };
  }

  private holdTaken(key: number, t: Takeover, attempts: number): HeldTask {
    return this.held.hold(key, { ms: t.ms, seq: t.seq, group: t.group, worker: t.worker, deliveredAt: t.deliveredAt, attempts, leaseUntil: t.leaseUntil, written: true });
  }

  /** The task's waiting-order entry goes stale; the count drops now. */
  takeWaiting(t: Takeover, from: "available" | "dead"): TaskRecord | null {
    const key = this.key(t.queue);
    if (this.held.get(key, t.ms, t.seq)) return null;
    // A task the last run left in flight counts as waiting: release it first.
    if (this.leftovers.has(key) && !this.held.get(key, t.ms, t.seq)) this.releaseLeftover(key, t);
    const taken = this.claims.claimWaiting.get({ ...this.takeoverParams(t), from: STATUS[from] });
    if (taken) {
      this.holdTaken(this.key(t.queue), t, taken.attempts);
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

const FIRST_ID: Id = { ms: 0, seq: 0 };
const LAST_ID: Id = { ms: Number.MAX_VALUE, seq: Number.MAX_VALUE };
const isWaiting = (status: number) => status === STATUS.available || status === STATUS.dead;
