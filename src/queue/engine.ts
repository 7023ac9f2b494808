// The task-queue engine: the one object every front door (TCP server, CLI, library) calls. It
// wires the queue layer's parts, each owning its state: Queues (cached queue records and
// settings), GroupNames, Tasks (push, delivery, ack/nack/delete, counts), Waiters (blocked
// readers), Maintenance (the timer), Keyspace (EXISTS/SCAN/DEL), all inside group-commit turns.
// It knows nothing of sockets or RESP.
import { type Driver, type Moved, type Release, StorageError, type TaskRecord } from "../store/driver.ts";
import { QueueError } from "./errors.ts";
import { GroupNames } from "./groups.ts";
import type { AddIdSpec, StreamId } from "./ids.ts";
import { Keyspace } from "./keyspace.ts";
import { Maintenance } from "./maintenance.ts";
import { DEAD_SUFFIX, isDeadView, type QueueDefaults, queueOf, Queues, type QueueSettings } from "./queues.ts";
import { ConsumerSeen } from "./seen.ts";
import { type Entry, type PushOptions, type ReadRequest, type ReadResult, Tasks, type TrimRule } from "./tasks.ts";
import { Turn } from "./turn.ts";
import { type Waiter, Waiters } from "./waiters.ts";
import { KeyVersions, versionedDriver } from "./watch.ts";

// The queue layer's shapes, for front doors that only know the engine.
export { DEAD_SUFFIX, isDeadView, queueOf, type QueueDefaults, type QueueSettings };
export type { EntryFields } from "../store/driver.ts";
export { StorageError } from "../store/driver.ts";
export { DELIVERY_REPLY_BYTES_MAX, type Entry, type PushOptions, READ_COUNT_MAX, type ReadRequest, type ReadResult, type TrimRule } from "./tasks.ts";

/** The server-wide defaults (entries keep ezra's attempts fields unless a queue says plain). */
export interface EngineOptions extends Omit<QueueDefaults, "entryFields"> {
  /** The storage the engine owns from now on (closes it in close()). */
  driver: Driver;
  blockedClientsMax: number;
  now?: () => number;
}

export class Engine {
  readonly driver: Driver;
  readonly turn: Turn;
  /** Consumers' seen-times, written only by turns that write anyway (an empty poll writes nothing). */
  readonly seen: ConsumerSeen;
  readonly now: () => number;
  readonly defaults: QueueDefaults;
  /** Per-queue write versions for WATCH: every write through `driver` bumps its queue's. */
  readonly versions = new KeyVersions();
  readonly keyspace: Keyspace;
  private readonly queues: Queues;
  private readonly groupNames: GroupNames;
  private readonly tasks: Tasks;
  private readonly waiters: Waiters<ReadRequest>;
  private readonly maintenance: Maintenance;

  constructor(options: EngineOptions) {
    this.now = options.now ?? Date.now;
    this.defaults = {
      visibilityTimeoutMs: options.visibilityTimeoutMs,
      maxAttempts: options.maxAttempts,
      retentionMs: options.retentionMs,
      entryFields: "ezra",
    };
    this.waiters = new Waiters<ReadRequest>(options.blockedClientsMax);
    this.driver = versionedDriver(options.driver, this.versions);
    this.turn = new Turn(this.driver);
    this.seen = new ConsumerSeen(this.driver);
    this.queues = new Queues(this.driver, this.now, this.defaults);
    this.groupNames = new GroupNames(this.driver, this.now);
    this.maintenance = new Maintenance(this.driver, this.turn, this.now, () => this.defaults.maxAttempts, (rows) =>
      this.signalMoved(rows),
    );
    this.tasks = new Tasks({
      driver: this.driver,
      now: this.now,
      queues: this.queues,
      groups: this.groupNames,
      seen: this.seen,
      versions: this.versions,
      defaultMaxAttempts: () => this.defaults.maxAttempts,
      dueBy: (at) => this.maintenance.dueBy(at),
      signal: (queue) => this.waiters.signal(queue),
    });
    this.keyspace = new Keyspace(this.driver, this.queues, this.groupNames, this.seen, (key) => this.keyDeleted(key));
    this.turn.beforeCommit(() => {
      this.waiters.serveSignalled();
      this.queues.saveDirty();
      // Last: the hooks above may deliver, which writes; a turn that wrote nothing stays clean.
      if (this.seen.hasUnsaved && !this.turn.clean) this.seen.save();
    });
    this.turn.onFinish((failure) => {
      if (!failure) return;
      // The rollback undid this turn: drop cached state and re-read what is on disk.
      this.waiters.clearSignals();
      this.loadCaches(null);
      this.seen.afterRollback();
      this.maintenance.reschedule();
    });
    try {
      // Restart recovery: every in-flight task goes back to available (or dead), before listening.
      this.loadCaches({ now: this.now(), defaultMaxAttempts: this.defaults.maxAttempts, reason: null });
      this.maintenance.reschedule();
    } catch (err) {
      this.driver.close();
      const failure = this.driver.failureOf(err);
      if (!failure) throw err;
      throw new StorageError(failure.code, `cannot open ${this.driver.location}: ${failure.message}`);
    }
  }

  private loadCaches(recovery: Release | null): void {
    this.queues.load(recovery);
    this.groupNames.load(this.queues.names());
  }

  private signalMoved(moved: Moved[]): void {
    for (const m of moved) this.waiters.signal(m.queue);
  }

  // --- queues and settings ------------------------------------------------------------

  /** True when `key` names a queue (a dead view counts as its queue). */
  exists(key: string): boolean {
    return this.queues.get(key) !== undefined;
  }

  queueNames(): string[] {
    return this.queues.names();
  }

  effective(key: string): QueueDefaults {
    return this.queues.effective(key);
  }

  settings(key: string): QueueSettings {
    return this.queues.settings(key);
  }

  /** Changes a queue's settings; `null` reverts one to the server default. Creates the queue. */
  configure(key: string, changes: Partial<QueueSettings>): void {
    this.queues.configure(key, changes);
  }

  // --- tasks ------------------------------------------------------------------------------

  push(key: string, spec: AddIdSpec, fields: Uint8Array[], options: PushOptions = {}): StreamId | null {
    return this.tasks.push(key, spec, fields, options);
  }

  /** XSETID: moves the queue's last id (and optionally entries-added and max-deleted-entry-id). */
  setLastId(key: string, id: StreamId, entriesAdded: number | null, maxDeleted: StreamId | null): void {
    this.tasks.setLastId(key, id, entriesAdded, maxDeleted);
  }

  /** XADD/XTRIM trimming, as Redis does it: oldest entries first, whatever their state. */
  trim(key: string, rule: TrimRule): number {
    return this.tasks.trim(key, rule);
  }

  /** Delivers up to `count` waiting tasks of one queue (or dead view) to `consumer`, oldest first. */
  /** `count` null: no COUNT given (tasks.countFor). */
  deliver(key: string, group: string, consumer: string, count: number | null, noack: boolean): Entry[] {
    return this.tasks.deliver(key, group, consumer, count, noack);
  }

  /** XREADGROUP with `>`: delivers from each key; an empty result means nothing was available. */
  deliverEach(req: ReadRequest): ReadResult {
    return this.tasks.deliverEach(req);
  }

  /** XREADGROUP with an explicit id: this consumer's own in-flight tasks after `after`. */
  ownPending(key: string, group: string, consumer: string, after: StreamId, count: number | null): Entry[] {
    return this.tasks.ownPending(key, group, consumer, after, this.tasks.countFor(key, count));
  }

  /** XACK: acknowledges in-flight tasks; returns how many were in flight. */
  ack(key: string, ids: StreamId[]): number {
    return this.tasks.ack(key, ids);
  }

  /** Ends a delivery without success: back to available, or to the dead view. False if not in flight. */
  nack(key: string, id: StreamId, reason: string | null): boolean {
    return this.tasks.nack(key, id, reason);
  }

  /** XDEL: nacks in-flight tasks, deletes any other; returns how many ids were affected. */
  delete(key: string, ids: StreamId[]): number {
    return this.tasks.delete(key, ids);
  }

  /** XLEN: tasks waiting; on a dead view, dead tasks. */
  length(key: string): number {
    return this.tasks.length(key);
  }

  counts(key: string): Record<"available" | "in_flight" | "done" | "dead", number> {
    return this.tasks.counts(key);
  }

  streamInfo(key: string) {
    return this.tasks.streamInfo(key);
  }

  /** Rows of `key` as entries, with the queue's max_attempts where a task has none of its own. */
  entriesOf(key: string, rows: TaskRecord[]): Entry[] {
    return this.tasks.entriesOf(key, rows);
  }

  /** Takeovers (queue/takeover.ts) tell the timer when their leases run out. */
  leaseUntil(at: number): void {
    this.maintenance.dueBy(at);
  }

  /** Tasks of `queue` became available outside Tasks (XGROUP DELCONSUMER): serve blocked readers. */
  tasksReturned(queue: string): void {
    this.waiters.signal(queue);
  }

  // --- blocked readers --------------------------------------------------------------------

  /**
   * Blocks a reader until a task arrives (resolve) or `timeoutMs` passes (0: forever). With
   * `onGone` (XREADGROUP) it is also answered when its key is deleted or its group destroyed.
   */
  waitForDelivery(
    req: ReadRequest,
    timeoutMs: number,
    resolve: (result: ReadResult) => void,
    onTimeout: () => void,
    onGone: ((err: QueueError) => void) | null = null,
  ): Waiter<ReadRequest> {
    const tryServe = (queue: string): boolean => {
      const entries = this.tasks.deliver(queue, req.group, req.consumer, req.count, req.noack);
      if (entries.length === 0) return false;
      resolve([[queue, entries]]);
      return true;
    };
    return this.waiters.add(req.keys, timeoutMs, req, tryServe, onTimeout, true, onGone);
  }

  /** Blocks a reader that only looks (XREAD): `tryServe` reads without delivering. */
  waitForEntries(req: ReadRequest, timeoutMs: number, tryServe: (queue: string) => boolean, onTimeout: () => void): Waiter<ReadRequest> {
    return this.waiters.add(req.keys, timeoutMs, req, tryServe, onTimeout, false);
  }

  unblock(waiter: Waiter<ReadRequest>): void {
    this.waiters.remove(waiter);
  }

  get blockedCount(): number {
    return this.waiters.count;
  }

  /**
   * DEL of `key` (a queue also takes its dead view): group readers blocked on it are answered
   * at once, as Redis 7 answers them; XREAD and BLPOP readers keep waiting for a new push.
   */
  private keyDeleted(key: string): void {
    const keys = isDeadView(key) ? [key] : [key, key + DEAD_SUFFIX];
    this.waiters.endGone(keys, new QueueError("KEY_DELETED", `${key} was deleted`), () => true);
  }

  /** Every blocked reader, oldest first, removed from waiting (shutdown answers them). */
  drainWaiters(): ReadRequest[] {
    return this.waiters.drain();
  }

  // --- groups -----------------------------------------------------------------------------

  /** XGROUP CREATE: false when the group already exists. */
  createGroup(key: string, group: string, mkStream: boolean): boolean {
    let q = this.queues.get(key);
    if (!q) {
      if (!mkStream) throw new QueueError("NOT_FOUND", `no queue ${key}`);
      q = this.queues.create(queueOf(key));
    }
    return this.groupNames.ensure(q.name, group);
  }

  hasGroup(key: string, group: string): boolean {
    return this.groupNames.has(key, group);
  }

  /**
   * XGROUP DESTROY: removes the group and its consumers. Its in-flight tasks stay in flight:
   * their workers may still ack them, and an unacked one comes back when its lease runs out.
   * Readers blocked through the group on the queue or its dead view get Redis 7's NOGROUP at once.
   */
  destroyGroup(key: string, group: string): boolean {
    if (!this.groupNames.has(key, group)) return false;
    const queue = queueOf(key);
    this.driver.deleteGroup(queue, group);
    this.groupNames.forget(key, group);
    this.seen.forget(queue, group);
    const err = new QueueError("GROUP_DESTROYED", `group ${group} of ${queue} was destroyed`);
    this.waiters.endGone([queue, queue + DEAD_SUFFIX], err, (req) => req.group === group);
    return true;
  }

  // --- shutdown ---------------------------------------------------------------------------

  close(): void {
    this.maintenance.stop();
    this.turn.finish();
    this.saveSeenAtClose();
    this.driver.close();
  }

  /** Shutdown: seen-times from polls since the last write turn, in one small transaction. */
  private saveSeenAtClose(): void {
    if (!this.seen.hasUnsaved) return;
    try {
      this.driver.begin();
      this.seen.save();
      this.driver.commit(true);
    } catch {
      try {
        this.driver.rollback();
      } catch {
        // Nothing left to undo.
      }
      // Advisory data (XINFO's idle time): a failing disk must not stop the shutdown.
    }
  }
}
