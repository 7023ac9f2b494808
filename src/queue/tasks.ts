// A queue's tasks through their life: push (with XSETID and trimming), delivery to a consumer,
// ack, nack and delete, and the counts and entries XLEN, XINFO and the reads show. Tasks live in
// storage; the queues' cached progress is Queues', the group names GroupNames'. Deliveries and
// returned tasks tell the timer (dueBy) and the blocked readers (signal).
import type { Driver, EntryFields, TaskRecord } from "../store/driver.ts";
import { decodeFields, encodeFields, type FieldValue } from "../store/fields.ts";
import { QueueError } from "./errors.ts";
import type { GroupNames } from "./groups.ts";
import { type AddIdSpec, compareIds, formatId, MIN_ID, nextAutoId, type StreamId } from "./ids.ts";
import type { TaskOptions } from "./options.ts";
import { DEAD_SUFFIX, isDeadView, queueOf, type Queues } from "./queues.ts";
import type { ConsumerSeen } from "./seen.ts";
import type { KeyVersions } from "./watch.ts";

/** Payload bytes one delivery may return per stream: a COUNT of fat tasks is cut to fit (at least one task). */
export const DELIVERY_REPLY_BYTES_MAX = 16 * 1024 * 1024;

export interface Entry {
  id: StreamId;
  fields: FieldValue[];
  attempts: number;
  maxAttempts: number;
  /** The queue delivers entries as pushed: no attempts fields after the task's own. */
  plain: boolean;
}

/** Most tasks one XREADGROUP delivers per key; COUNT above it (or 0), or no COUNT on a plain queue, gets this many. */
export const READ_COUNT_MAX = 10_000;

/** An XREADGROUP (or BLPOP) delivery: up to `count` tasks from each key, for `consumer` of `group`. */
export interface ReadRequest {
  keys: string[];
  group: string;
  consumer: string;
  /** null: no COUNT given, so 1 (ezra entries) or READ_COUNT_MAX (plain entries, as Redis gives all). */
  count: number | null;
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

/** What Tasks works with; the engine wires them. */
export interface TaskParts {
  driver: Driver;
  now: () => number;
  queues: Queues;
  groups: GroupNames;
  seen: ConsumerSeen;
  versions: KeyVersions;
  defaultMaxAttempts: () => number;
  /** The timer must run no later than `at` (a lease, retention or ttl ends then). */
  dueBy: (at: number) => void;
  /** `queue` may have tasks for blocked readers now. */
  signal: (queue: string) => void;
}

export class Tasks {
  private readonly driver: Driver;
  private readonly now: () => number;
  private readonly queues: Queues;
  private readonly groups: GroupNames;
  private readonly seen: ConsumerSeen;
  private readonly versions: KeyVersions;
  private readonly defaultMaxAttempts: () => number;
  private readonly dueBy: (at: number) => void;
  private readonly signal: (queue: string) => void;

  constructor(parts: TaskParts) {
    this.driver = parts.driver;
    this.now = parts.now;
    this.queues = parts.queues;
    this.groups = parts.groups;
    this.seen = parts.seen;
    this.versions = parts.versions;
    this.defaultMaxAttempts = parts.defaultMaxAttempts;
    this.dueBy = parts.dueBy;
    this.signal = parts.signal;
  }

  push(key: string, spec: AddIdSpec, fields: Uint8Array[], options: PushOptions = {}): StreamId | null {
    if (isDeadView(key)) {
      throw new QueueError("DEAD_VIEW", `push to ${queueOf(key)}, not its dead-letter view`, { queue: queueOf(key) });
    }
    const existing = this.queues.get(key);
    if (!existing && options.noMkStream) return null;
    const now = this.now();
    // The id is checked before a missing queue is created: a refused XADD leaves no key behind.
    const id = this.nextId(key, existing?.last ?? MIN_ID, spec, now);
    const q = existing ?? this.queues.create(key);
    const expiresAt = options.ttlSeconds !== undefined ? now + options.ttlSeconds * 1000 : null;
    const encoded = encodeFields(fields);
    this.driver.insertTask({ queue: q.name, ms: id.ms, seq: id.seq, fields: encoded, maxAttempts: options.maxAttempts ?? null, expiresAt, createdAt: now });
    // Characters, not bytes, for text: close enough to decide when a delivery needs sizing.
    const size = typeof encoded === "string" ? encoded.length : encoded.byteLength;
    if (size > q.fieldsBytesMax) q.fieldsBytesMax = size;
    q.last = id;
    q.entriesAdded++;
    q.dirty = true;
    if (expiresAt !== null) this.dueBy(expiresAt);
    this.signal(q.name);
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
    const q = this.queues.get(key);
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
    if (!this.queues.get(key)) return 0;
    const limit = rule.limit ?? Number.MAX_SAFE_INTEGER;
    if (rule.kind === "maxlen") return this.driver.trimToLength(key, rule.maxLength, limit);
    return this.driver.trimBelowId(key, rule.minId, limit);
  }

  private touchConsumer(key: string, group: string, consumer: string, active: boolean): void {
    const q = this.queues.get(key) ?? this.queues.create(queueOf(key));
    this.groups.ensure(q.name, group);
    const now = this.now();
    // A command from a known consumer, a delivery too, moves its times in memory only (seen.ts);
    // creating the consumer writes its row.
    if (this.seen.touch(q.name, group, consumer, now, active)) return;
    this.driver.touchConsumer(q.name, group, consumer, now, active ? now : null);
    this.seen.written(q.name, group, consumer, now);
  }

  /** Delivers up to `count` waiting tasks of one queue (or dead view) to `consumer`, oldest first. */
  deliver(key: string, group: string, consumer: string, countGiven: number | null, noack: boolean): Entry[] {
    const now = this.now();
    const dead = isDeadView(key);
    const { visibilityTimeoutMs, retentionMs, maxAttempts, entryFields } = this.queues.effective(key);
    let count = countGiven ?? defaultCount(entryFields);
    const from = dead ? "dead" : "available";
    const fattest = this.queues.get(key)?.fieldsBytesMax ?? 0;
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
    this.touchConsumer(key, group, consumer, true);
    if (noack) this.dueBy(dead ? now : now + retentionMs);
    else this.dueBy(now + Math.min(visibilityTimeoutMs, this.driver.claimWriteDelayMs || Infinity));
    return toEntries(rows, maxAttempts, entryFields === "plain");
  }

  /** A read's COUNT for `key`: as given, else 1, or READ_COUNT_MAX where entries are plain (Redis gives all). */
  countFor(key: string, countGiven: number | null): number {
    return countGiven ?? defaultCount(this.queues.effective(key).entryFields);
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
    if (result.length === 0) for (const key of req.keys) this.touchConsumer(key, req.group, req.consumer, false);
    return result;
  }

  /** XREADGROUP with an explicit id: this consumer's own in-flight tasks after `after`. */
  ownPending(key: string, group: string, consumer: string, after: StreamId, count: number): Entry[] {
    this.touchConsumer(key, group, consumer, false);
    const rows = this.driver.ownPending(key, group, consumer, after, count);
    return this.entriesOf(key, rows);
  }

  /** XACK: acknowledges in-flight tasks; returns how many were in flight. */
  ack(key: string, ids: StreamId[]): number {
    const now = this.now();
    // An acked dead letter is gone: it was inspected and dealt with.
    if (isDeadView(key)) return this.driver.ack(key, ids, now, null);
    const purgeAt = now + this.queues.effective(key).retentionMs;
    const acked = this.driver.ack(key, ids, now, purgeAt);
    if (acked > 0) this.dueBy(purgeAt);
    return acked;
  }

  /** Ends a delivery without success: back to available, or to the dead view. False if not in flight. */
  nack(key: string, id: StreamId, reason: string | null): boolean {
    const moved = this.driver.release(key, id, { now: this.now(), defaultMaxAttempts: this.defaultMaxAttempts(), reason });
    if (moved) this.signal(moved.queue);
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
    const q = this.queues.get(key);
    if (!q || isDeadView(key) || compareIds(id, q.maxDeleted) <= 0) return;
    q.maxDeleted = { ms: id.ms, seq: id.seq };
    q.dirty = true;
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
    const q = this.queues.get(key);
    if (!q) return null;
    const first = this.driver.firstTask(key);
    const last = this.driver.lastTask(key);
    const { maxAttempts, entryFields } = this.queues.effective(key);
    const plain = entryFields === "plain";
    return {
      lastId: q.last,
      entriesAdded: q.entriesAdded,
      maxDeletedId: q.maxDeleted,
      groups: this.groups.names(key).length,
      first: first ? toEntries([first], maxAttempts, plain)[0] : null,
      last: last ? toEntries([last], maxAttempts, plain)[0] : null,
      counts: this.counts(key),
      settings: this.queues.effective(key),
    };
  }

  /** Rows of `key` as entries, with the queue's max_attempts where a task has none of its own. */
  entriesOf(key: string, rows: TaskRecord[]): Entry[] {
    if (rows.length === 0) return [];
    const { maxAttempts, entryFields } = this.queues.effective(key);
    return toEntries(rows, maxAttempts, entryFields === "plain");
  }
}

/** XREADGROUP without COUNT: one task, or as Redis every waiting entry (to the cap) where entries are plain. */
const defaultCount = (entryFields: EntryFields) => (entryFields === "plain" ? READ_COUNT_MAX : 1);

function toEntries(rows: TaskRecord[], queueMaxAttempts: number, plain: boolean): Entry[] {
  const entries = rows.map((row) => ({
    id: { ms: row.ms, seq: row.seq },
    fields: decodeFields(row.fields),
    attempts: row.attempts,
    maxAttempts: row.max_attempts ?? queueMaxAttempts,
    plain,
  }));
  return entries;
}
