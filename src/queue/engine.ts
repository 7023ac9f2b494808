// The task-queue engine: push, deliver, ack, nack, delete, groups and settings over the store,
// with blocked workers and timers. It knows nothing of sockets or RESP; every front door
// (TCP server, CLI, library) calls it. All work runs inside the current group-commit turn.
import { type Driver, type Moved, StorageError, type TaskRecord } from "../store/driver.ts";
import { decodeFields, encodeFields, type FieldValue } from "../store/fields.ts";
import { QueueError } from "./errors.ts";
import { type AddIdSpec, compareIds, formatId, MIN_ID, nextAutoId, type StreamId } from "./ids.ts";
import { Maintenance } from "./maintenance.ts";
import type { TaskOptions } from "./options.ts";
import { ConsumerSeen } from "./seen.ts";
import { Turn } from "./turn.ts";
import { type Waiter, Waiters } from "./waiters.ts";
import { KeyVersions, versionedDriver } from "./watch.ts";

export const DEAD_SUFFIX = "::dead";

/** Payload bytes one delivery may return per stream: a COUNT of fat tasks is cut to fit (at least one task). */
export const DELIVERY_REPLY_BYTES_MAX = 16 * 1024 * 1024;

export interface QueueDefaults {
  visibilityTimeoutMs: number;
  maxAttempts: number;
  retentionMs: number;
}

export interface EngineOptions extends QueueDefaults {
  /** The storage the engine owns from now on (closes it in close()). */
  driver: Driver;
  blockedClientsMax: number;
  now?: () => number;
}

export interface Entry {
  id: StreamId;
  fields: FieldValue[];
  attempts: number;
  maxAttempts: number;
}

export interface QueueSettings {
  visibilityTimeoutMs: number | null;
  maxAttempts: number | null;
  retentionMs: number | null;
}

interface QueueState {
  name: string;
  last: StreamId;
  entriesAdded: number;
  /** Largest encoded task pushed to the queue, in bytes (bounds deliveries by reply size). */
  fieldsBytesMax: number;
  /** Largest id XDEL removed (or XSETID MAXDELETEDID set): XINFO's max-deleted-entry-id. */
  maxDeleted: StreamId;
  settings: QueueSettings;
  groups: Set<string>;
  createdAt: number;
  dirty: boolean;
}

export interface ReadRequest {
  keys: string[];
  group: string;
  consumer: string;
  count: number;
  noack: boolean;
}

export type ReadResult = [key: string, entries: Entry[]][];

export type TrimRule =
  | { kind: "maxlen"; maxLength: number; limit: number | null }
  | { kind: "minid"; minId: StreamId; limit: number | null };

export interface PushOptions extends TaskOptions {
  /** XADD NOMKSTREAM: a missing queue is not created and nothing is pushed. */
  noMkStream?: boolean;
}

export const isDeadView = (key: string) => key.endsWith(DEAD_SUFFIX);
/** The queue a key belongs to: groups, consumers and settings are recorded under it, also for its dead view. */
export const queueOf = (key: string) => (isDeadView(key) ? key.slice(0, -DEAD_SUFFIX.length) : key);

export class Engine {
  readonly driver: Driver;
  readonly turn: Turn;
  /** Consumers' seen-times, written only by turns that write anyway (an empty poll writes nothing). */
  readonly seen: ConsumerSeen;
  readonly now: () => number;
  readonly defaults: QueueDefaults;
  /** Per-queue write versions for WATCH: every write through `driver` bumps its queue's. */
  readonly versions = new KeyVersions();
  private readonly waiters: Waiters<ReadRequest>;
  private readonly maintenance: Maintenance;
  private queues = new Map<string, QueueState>();

  constructor(options: EngineOptions) {
    this.now = options.now ?? Date.now;
    this.defaults = {
      visibilityTimeoutMs: options.visibilityTimeoutMs,
      maxAttempts: options.maxAttempts,
      retentionMs: options.retentionMs,
    };
    this.waiters = new Waiters<ReadRequest>(options.blockedClientsMax);
    this.driver = versionedDriver(options.driver, this.versions);
    this.turn = new Turn(this.driver);
    this.seen = new ConsumerSeen(this.driver);
    this.maintenance = new Maintenance(this.driver, this.turn, this.now, () => this.defaults.maxAttempts, (rows) =>
      this.signalMoved(rows),
    );
    this.turn.beforeCommit(() => {
      this.waiters.serveSignalled();
      this.saveDirtyQueues();
      // Last: the hooks above may deliver, which writes; a turn that wrote nothing stays clean.
      if (this.seen.hasUnsaved && !this.turn.clean) this.seen.save();
    });
    this.turn.onFinish((failure) => {
      if (!failure) return;
      // The rollback undid this turn: drop cached state and re-read what is on disk.
      this.waiters.clearSignals();
      this.loadQueues();
      this.seen.afterRollback();
      this.maintenance.reschedule();
    });
    try {
      // Restart recovery: every in-flight task goes back to available (or dead), before listening.
      this.driver.releaseAllInFlight({ now: this.now(), defaultMaxAttempts: this.defaults.maxAttempts, reason: null });
      this.loadQueues();
      this.maintenance.reschedule();
    } catch (err) {
      this.driver.close();
      const failure = this.driver.failureOf(err);
      if (!failure) throw err;
      throw new StorageError(failure.code, `cannot open ${this.driver.location}: ${failure.message}`);
    }
  }

  private loadQueues(): void {
    const queues = new Map<string, QueueState>();
    for (const record of this.driver.queues()) {
      queues.set(record.name, {
        name: record.name,
        last: record.lastId,
        entriesAdded: record.entriesAdded,
        fieldsBytesMax: record.fieldsBytesMax,
        maxDeleted: record.maxDeletedId,
        settings: {
          visibilityTimeoutMs: record.visibilityTimeoutMs,
          maxAttempts: record.maxAttempts,
          retentionMs: record.retentionMs,
        },
        groups: new Set(this.driver.groupNames(record.name)),
        createdAt: record.createdAt,
        dirty: false,
      });
    }
    this.queues = queues;
  }

  private record(q: QueueState) {
    return {
      name: q.name,
      lastId: q.last,
      entriesAdded: q.entriesAdded,
      fieldsBytesMax: q.fieldsBytesMax,
      maxDeletedId: q.maxDeleted,
      ...q.settings,
      createdAt: q.createdAt,
    };
  }

  private saveDirtyQueues(): void {
    for (const q of this.queues.values()) {
      if (!q.dirty) continue;
      this.driver.saveQueueProgress(this.record(q));
      q.dirty = false;
    }
  }

  private signalMoved(moved: Moved[]): void {
    for (const m of moved) this.waiters.signal(m.queue);
  }

  // --- queues and settings ------------------------------------------------------------

  private queue(key: string): QueueState | undefined {
    return this.queues.get(queueOf(key));
  }

  private createQueue(name: string): QueueState {
    const now = this.now();
    this.driver.createQueue(name, now);
    const q: QueueState = {
      name,
      last: { ms: 0, seq: 0 },
      entriesAdded: 0,
      fieldsBytesMax: 0,
      maxDeleted: MIN_ID,
      settings: { visibilityTimeoutMs: null, maxAttempts: null, retentionMs: null },
      groups: new Set(),
      createdAt: now,
      dirty: false,
    };
    this.queues.set(name, q);
    return q;
  }

  /** DEL: drops a queue from the cache once its rows are deleted (queue/reads.ts). */
  forgetQueue(name: string): void {
    this.queues.delete(name);
    this.seen.forget(name);
  }

  exists(key: string): boolean {
    return this.queue(key) !== undefined;
  }

  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  effective(key: string): QueueDefaults {
    const s = this.queue(key)?.settings;
    return {
      visibilityTimeoutMs: s?.visibilityTimeoutMs ?? this.defaults.visibilityTimeoutMs,
      maxAttempts: s?.maxAttempts ?? this.defaults.maxAttempts,
      retentionMs: s?.retentionMs ?? this.defaults.retentionMs,
    };
  }

  settings(key: string): QueueSettings {
    const q = this.queue(key);
    if (!q) throw new QueueError("NOT_FOUND", `no queue ${key}`);
    return { ...q.settings };
  }

  /** Changes a queue's settings; `null` reverts one to the server default. Creates the queue. */
  configure(key: string, changes: Partial<QueueSettings>): void {
    if (isDeadView(key)) throw new QueueError("DEAD_VIEW", `settings belong to ${queueOf(key)}`, { queue: queueOf(key) });
    const q = this.queue(key) ?? this.createQueue(key);
    const next = { ...q.settings, ...changes };
    q.settings = next;
    this.driver.saveQueueSettings(this.record(q));
  }

  // --- push -------------------------------------------------------------------------------

  push(key: string, spec: AddIdSpec, fields: Uint8Array[], options: PushOptions = {}): StreamId | null {
    if (isDeadView(key)) {
      throw new QueueError("DEAD_VIEW", `push to ${queueOf(key)}, not its dead-letter view`, { queue: queueOf(key) });
    }
    const existing = this.queue(key);
    if (!existing && options.noMkStream) return null;
    const now = this.now();
    // The id is checked before a missing queue is created: a refused XADD leaves no key behind.
    const id = this.nextId(key, existing?.last ?? MIN_ID, spec, now);
    const q = existing ?? this.createQueue(key);
    const expiresAt = options.ttlSeconds !== undefined ? now + options.ttlSeconds * 1000 : null;
    const encoded = encodeFields(fields);
    this.driver.insertTask({ queue: q.name, ms: id.ms, seq: id.seq, fields: encoded, maxAttempts: options.maxAttempts ?? null, expiresAt, createdAt: now });
    // Characters, not bytes, for text: close enough to decide when a delivery needs sizing.
    const size = typeof encoded === "string" ? encoded.length : encoded.byteLength;
    if (size > q.fieldsBytesMax) q.fieldsBytesMax = size;
    q.last = id;
    q.entriesAdded++;
    q.dirty = true;
    if (expiresAt !== null) this.maintenance.dueBy(expiresAt);
    this.waiters.signal(q.name);
    return id;
  }

  private nextId(name: string, last: StreamId, spec: AddIdSpec, now: number): StreamId {
    let id: StreamId | null;
    if (spec.kind === "auto") id = nextAutoId(last, now);
    else if (spec.kind === "autoSeq") id = spec.ms === last.ms ? nextAutoId(last, spec.ms) : { ms: spec.ms, seq: 0 };
    else id = spec.id;
    if (id === null) throw new QueueError("ID_EXHAUSTED", `${name} has handed out its last possible id`);
    if (spec.kind === "explicit" && id.ms === 0 && id.seq === 0) {
      throw new QueueError("ID_ZERO", "an id must be greater than 0-0");
    }
    if (compareIds(id, last) <= 0) {
      throw new QueueError("ID_NOT_GREATER", `an id must be greater than ${name}'s last id`);
    }
    return id;
  }

  /**
   * XSETID: moves the queue's last id (and optionally entries-added and max-deleted-entry-id),
   * with Redis's checks, so ids handed out afterwards are greater. The top item is the newest
   * task in the queue or its dead view: a dead task keeps its id, which must not be reused.
   */
  setLastId(key: string, id: StreamId, entriesAdded: number | null, maxDeleted: StreamId | null): void {
    const q = this.queue(key);
    if (!q) throw new QueueError("NOT_FOUND", `no queue ${key}`);
    if (isDeadView(key)) throw new QueueError("DEAD_VIEW", `ids belong to ${q.name}`, { queue: q.name });
    const counts = this.counts(key);
    const length = counts.available + counts.in_flight + counts.done;
    if (length + counts.dead > 0) {
      let top: StreamId = this.driver.lastTask(key) ?? MIN_ID;
      const deadTop = this.driver.lastTask(key + DEAD_SUFFIX);
      if (deadTop && compareIds(deadTop, top) > 0) top = deadTop;
      if (compareIds(id, top) < 0) throw new QueueError("ID_BELOW_TOP", `${formatId(id)} is below ${key}'s newest task`);
      if (entriesAdded !== null && entriesAdded < length) {
        throw new QueueError("ENTRIES_BELOW_LENGTH", `${entriesAdded} entries added is fewer than ${key}'s ${length} entries`);
      }
    }
    q.last = { ms: id.ms, seq: id.seq };
    if (entriesAdded !== null) q.entriesAdded = entriesAdded;
    // As Redis: MAXDELETEDID 0-0 leaves the recorded one as it is.
    if (maxDeleted && compareIds(maxDeleted, MIN_ID) > 0) q.maxDeleted = { ms: maxDeleted.ms, seq: maxDeleted.seq };
    q.dirty = true;
    // Saved with the turn's progress (a pass-through for WATCH): the change itself counts as a write.
    this.versions.bump(q.name);
  }

  /** XADD/XTRIM trimming, as Redis does it: oldest entries first, whatever their state. */
  trim(key: string, rule: TrimRule): number {
    if (!this.queue(key)) return 0;
    const limit = rule.limit ?? Number.MAX_SAFE_INTEGER;
    if (rule.kind === "maxlen") return this.driver.trimToLength(key, rule.maxLength, limit);
    return this.driver.trimBelowId(key, rule.minId, limit);
  }

  // --- pop --------------------------------------------------------------------------------

  private touchGroup(key: string, group: string, consumer: string, active: boolean): void {
    const q = this.queue(key) ?? this.createQueue(queueOf(key));
    if (!q.groups.has(group)) {
      this.driver.createGroup(q.name, group, this.now());
      q.groups.add(group);
    }
    const now = this.now();
    // A command from a known consumer moves its seen-time in memory only; creating the consumer,
    // or a delivery (a turn that writes anyway), writes its row.
    if (!active && this.seen.touch(q.name, group, consumer, now)) return;
    this.driver.touchConsumer(q.name, group, consumer, now, active ? now : null);
    this.seen.written(q.name, group, consumer, now);
  }

  /** Delivers up to `count` waiting tasks of one queue (or dead view) to `consumer`, oldest first. */
  deliver(key: string, group: string, consumer: string, count: number, noack: boolean): Entry[] {
    const now = this.now();
    const dead = isDeadView(key);
    const { visibilityTimeoutMs, retentionMs, maxAttempts } = this.effective(key);
    const from = dead ? "dead" : "available";
    const fattest = this.queue(key)?.fieldsBytesMax ?? 0;
    if (count > 1 && count * fattest > DELIVERY_REPLY_BYTES_MAX) count = this.countWithinBytes(key, from, count);
    const rows = this.driver.deliver(key, from, count, {
      state: noack ? "done" : "in_flight",
      attemptsAdded: dead ? 0 : 1,
      worker: consumer,
      group,
      leaseUntil: noack ? null : now + visibilityTimeoutMs,
      deliveredAt: now,
      finishedAt: noack ? now : null,
      purgeAt: noack ? (dead ? now : now + retentionMs) : null,
    });
    if (rows.length === 0) return [];
    this.touchGroup(key, group, consumer, true);
    if (noack) this.maintenance.dueBy(dead ? now : now + retentionMs);
    else this.maintenance.dueBy(now + visibilityTimeoutMs);
    return toEntries(rows, maxAttempts);
  }

  /** How many of the next `count` tasks fit in DELIVERY_REPLY_BYTES_MAX (at least one). */
  private countWithinBytes(key: string, from: "available" | "dead", count: number): number {
    let total = 0;
    let fitting = 0;
    for (const bytes of this.driver.nextSizes(key, from, count)) {
      total += bytes;
      if (fitting > 0 && total > DELIVERY_REPLY_BYTES_MAX) break;
      fitting++;
    }
    return Math.max(1, fitting);
  }

  /** XREADGROUP with `>`: delivers from each key; an empty result means nothing was available. */
  deliverEach(req: ReadRequest): ReadResult {
    const result: ReadResult = [];
    for (const key of req.keys) {
      const entries = this.deliver(key, req.group, req.consumer, req.count, req.noack);
      if (entries.length > 0) result.push([key, entries]);
    }
    if (result.length === 0) for (const key of req.keys) this.touchGroup(key, req.group, req.consumer, false);
    return result;
  }

  /** XREADGROUP with an explicit id: this consumer's own in-flight tasks after `after`. */
  ownPending(key: string, group: string, consumer: string, after: StreamId, count: number): Entry[] {
    this.touchGroup(key, group, consumer, false);
    const rows = this.driver.ownPending(key, group, consumer, after, count);
    return this.entriesOf(key, rows);
  }

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
      const entries = this.deliver(queue, req.group, req.consumer, req.count, req.noack);
      if (entries.length === 0) return false;
      resolve([[queue, entries]]);
      return true;
    };
    return this.waiters.add(req.keys, timeoutMs, req, tryServe, onTimeout, true, onGone);
  }

  /**
   * DEL of `key` (a queue also takes its dead view): group readers blocked on it are answered
   * at once, as Redis 7 answers them; XREAD and BLPOP readers keep waiting for a new push.
   */
  keyDeleted(key: string): void {
    const keys = isDeadView(key) ? [key] : [key, key + DEAD_SUFFIX];
    this.endWaiters(keys, null, new QueueError("KEY_DELETED", `${key} was deleted`));
  }

  /** XGROUP DESTROY: readers blocked through that group on the queue or its dead view are answered. */
  groupDestroyed(key: string, group: string): void {
    const queue = queueOf(key);
    this.endWaiters([queue, queue + DEAD_SUFFIX], group, new QueueError("GROUP_DESTROYED", `group ${group} of ${queue} was destroyed`));
  }

  private endWaiters(keys: string[], group: string | null, err: QueueError): void {
    for (const key of keys) {
      for (const waiter of this.waiters.on(key)) {
        if (!waiter.onGone || (group !== null && waiter.payload.group !== group)) continue;
        this.waiters.remove(waiter);
        waiter.onGone(err);
      }
    }
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

  // --- finish -----------------------------------------------------------------------------

  /** XACK: acknowledges in-flight tasks; returns how many were in flight. */
  ack(key: string, ids: StreamId[]): number {
    const now = this.now();
    // An acked dead letter is gone: it was inspected and dealt with.
    if (isDeadView(key)) return this.driver.ack(key, ids, now, null);
    const purgeAt = now + this.effective(key).retentionMs;
    const acked = this.driver.ack(key, ids, now, purgeAt);
    if (acked > 0) this.maintenance.dueBy(purgeAt);
    return acked;
  }

  /** Ends a delivery without success: back to available, or to the dead view. False if not in flight. */
  nack(key: string, id: StreamId, reason: string | null): boolean {
    const moved = this.driver.release(key, id, { now: this.now(), defaultMaxAttempts: this.defaults.maxAttempts, reason });
    if (moved) this.waiters.signal(moved.queue);
    return moved !== null;
  }

  /** XDEL: nacks in-flight tasks, deletes any other; returns how many ids were affected. */
  delete(key: string, ids: StreamId[]): number {
    let affected = 0;
    for (const id of ids) {
      const state = this.driver.taskState(key, id);
      if (state === null) continue;
      if (state === "in_flight") affected += this.nack(key, id, "deleted while in flight (XDEL)") ? 1 : 0;
      else if (this.driver.deleteTask(key, id) > 0) {
        affected++;
        this.noteDeleted(key, id);
      }
    }
    return affected;
  }

  /** XINFO's max-deleted-entry-id follows XDEL as in Redis (trims, retention and ttl do not count). */
  private noteDeleted(key: string, id: StreamId): void {
    const q = this.queue(key);
    if (!q || isDeadView(key) || compareIds(id, q.maxDeleted) <= 0) return;
    q.maxDeleted = { ms: id.ms, seq: id.seq };
    q.dirty = true;
  }

  // --- groups and inspection ----------------------------------------------------------------

  /** XGROUP CREATE: false when the group already exists. */
  createGroup(key: string, group: string, mkStream: boolean): boolean {
    let q = this.queue(key);
    if (!q) {
      if (!mkStream) {
        throw new QueueError("NOT_FOUND", `no queue ${key}`);
      }
      q = this.createQueue(queueOf(key));
    }
    if (q.groups.has(group)) return false;
    this.driver.createGroup(q.name, group, this.now());
    q.groups.add(group);
    return true;
  }

  groups(key: string): string[] {
    return [...(this.queue(key)?.groups ?? [])];
  }

  hasGroup(key: string, group: string): boolean {
    return this.queue(key)?.groups.has(group) ?? false;
  }

  /** XGROUP DESTROY: drops a group from the cache once its rows are deleted (queue/groups.ts). */
  forgetGroup(key: string, group: string): void {
    this.queue(key)?.groups.delete(group);
    this.seen.forget(queueOf(key), group);
  }

  /** Takeovers (queue/takeover.ts) tell the timer when their leases run out. */
  leaseUntil(at: number): void {
    this.maintenance.dueBy(at);
  }

  /** Tasks of `queue` became available outside this file: serve blocked readers. */
  tasksReturned(queue: string): void {
    this.waiters.signal(queue);
  }

  /** XLEN: tasks waiting; on a dead view, dead tasks. */
  length(key: string): number {
    return this.driver.countState(key, isDeadView(key) ? "dead" : "available");
  }

  counts(key: string): Record<"available" | "in_flight" | "done" | "dead", number> {
    const counts = { available: 0, in_flight: 0, done: 0, dead: 0, ...this.driver.countByState(key) };
    if (!isDeadView(key)) counts.dead = this.driver.countState(key + DEAD_SUFFIX, "dead");
    return counts;
  }

  streamInfo(key: string) {
    const q = this.queue(key);
    if (!q) return null;
    const first = this.driver.firstTask(key);
    const last = this.driver.lastTask(key);
    const maxAttempts = this.effective(key).maxAttempts;
    return {
      lastId: q.last,
      entriesAdded: q.entriesAdded,
      maxDeletedId: q.maxDeleted,
      groups: q.groups.size,
      first: first ? toEntries([first], maxAttempts)[0] : null,
      last: last ? toEntries([last], maxAttempts)[0] : null,
      counts: this.counts(key),
      settings: this.effective(key),
    };
  }

  // --- shutdown ---------------------------------------------------------------------------

  /** Every blocked reader, oldest first, removed from waiting (shutdown answers them). */
  drainWaiters(): ReadRequest[] {
    const all = this.waiters.all();
    for (const w of all) {
      this.waiters.remove(w);
      w.onTimeout();
    }
    return all.map((w) => w.payload);
  }

  /** Rows of `key` as entries, with the queue's max_attempts where a task has none of its own. */
  entriesOf(key: string, rows: TaskRecord[]): Entry[] {
    return rows.length === 0 ? [] : toEntries(rows, this.effective(key).maxAttempts);
  }

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
      this.driver.commit();
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

function toEntries(rows: TaskRecord[], queueMaxAttempts: number): Entry[] {
  const entries = rows.map((row) => ({
    id: { ms: row.ms, seq: row.seq },
    fields: decodeFields(row.fields),
    attempts: row.attempts,
    maxAttempts: row.max_attempts ?? queueMaxAttempts,
  }));
  return entries;
}
