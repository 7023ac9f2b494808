// Pending entries and claims (XPENDING, XCLAIM, XAUTOCLAIM): a group's pending entries are the
// queue's in-flight tasks claimed through that group. A claim moves a task, never drops one.
import type { PendingRecord, TaskRecord, Takeover } from "../store/driver.ts";
import { DEAD_SUFFIX, type Engine, type Entry, isDeadView } from "./engine.ts";
import { MIN_ID, type StreamId } from "./ids.ts";

/** XAUTOCLAIM looks at up to COUNT times this many pending entries per call, as Redis does. */
export const AUTOCLAIM_SCAN_FACTOR = 10;

export interface PendingSummary {
  count: number;
  first: StreamId | null;
  last: StreamId | null;
  consumers: { name: string; count: number }[];
}

export interface PendingEntry {
  id: StreamId;
  consumer: string;
  /** ms since epoch when the current delivery started (XCLAIM IDLE/TIME can move it back). */
  deliveredAt: number;
  idleMs: number;
  deliveries: number;
}

export interface PendingQuery {
  start: StreamId;
  end: StreamId;
  count: number;
  minIdleMs: number;
  consumer: string | null;
}

export interface ClaimOptions {
  minIdleMs: number;
  /** IDLE: report the task as idle this long; TIME: as delivered at this ms since epoch. */
  idleMs: number | null;
  timeMs: number | null;
  /** RETRYCOUNT: set the delivery count (attempts) to this. */
  retryCount: number | null;
  /** FORCE: also take a task nobody holds, or one held through another group. */
  force: boolean;
  /** JUSTID: the holder's delivery count is not incremented. */
  justId: boolean;
}

export interface AutoclaimResult {
  next: StreamId;
  entries: Entry[];
  /** Ids pending but no longer in the stream: always empty in ezra, where a pending task cannot vanish. */
  deleted: StreamId[];
}

/** The queue a key belongs to: groups and consumers are recorded under it, also for its dead view. */
export const queueOf = (key: string) => (isDeadView(key) ? key.slice(0, -DEAD_SUFFIX.length) : key);

export function pendingSummary(engine: Engine, key: string, group: string): PendingSummary {
  const consumers = engine.driver.pendingByWorker(key, group).map((r) => ({ name: r.worker, count: r.count }));
  const count = consumers.reduce((sum, c) => sum + c.count, 0);
  const bounds = count === 0 ? null : engine.driver.pendingBounds(key, group);
  return { count, first: bounds?.first ?? null, last: bounds?.last ?? null, consumers };
}

export function pendingEntries(engine: Engine, key: string, group: string, query: PendingQuery): PendingEntry[] {
  if (query.count <= 0) return [];
  const now = engine.now();
  const records = engine.driver.pending({
    queue: key,
    group,
    start: query.start,
    end: query.end,
    deliveredBy: now - Math.max(0, query.minIdleMs),
    count: query.count,
    worker: query.consumer,
  });
  return records.map((record) => toPendingEntry(record, now));
}

/** Pending entries of one consumer (XINFO STREAM FULL), oldest first. */
export function pendingOf(engine: Engine, key: string, group: string, consumer: string | null, count: number): PendingEntry[] {
  const max = { ms: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER };
  return pendingEntries(engine, key, group, { start: MIN_ID, end: max, count, minIdleMs: 0, consumer });
}

function toPendingEntry(record: PendingRecord, now: number): PendingEntry {
  return {
    id: { ms: record.ms, seq: record.seq },
    consumer: record.worker,
    deliveredAt: record.deliveredAt,
    idleMs: Math.max(0, now - record.deliveredAt),
    deliveries: record.attempts,
  };
}

/**
 * XCLAIM: gives each listed task idle at least `minIdleMs` to `consumer` with a fresh lease.
 * The holder re-claiming its own task keeps it alive (a heartbeat) without counting a delivery.
 * Returns the claimed tasks in the order of `ids`.
 */
export function claim(engine: Engine, key: string, group: string, consumer: string, ids: StreamId[], options: ClaimOptions): Entry[] {
  const now = engine.now();
  let delivered = options.timeMs ?? (options.idleMs !== null ? now - options.idleMs : now);
  if (delivered < 0 || delivered > now) delivered = now; // as Redis: no delivery in the future
  const takeover = takeoverOf(engine, key, group, consumer, now, delivered, options);
  const rows: TaskRecord[] = [];
  for (const id of ids) {
    const at = { ...takeover, ms: id.ms, seq: id.seq };
    let row = engine.driver.takeOver(at);
    if (!row && options.force) row = engine.driver.takeWaiting(at, isDeadView(key) ? "dead" : "available");
    if (row) rows.push(row);
  }
  afterClaims(engine, key, group, consumer, now, takeover.leaseUntil, rows.length);
  return engine.entriesOf(key, rows);
}

/**
 * XAUTOCLAIM: claims up to `count` of the group's tasks idle at least `minIdleMs`, scanning
 * from `start` in id order. `next` is where the following call should start (0-0: done).
 */
export function autoclaim(
  engine: Engine,
  key: string,
  group: string,
  consumer: string,
  minIdleMs: number,
  start: StreamId,
  count: number,
  justId: boolean,
): AutoclaimResult {
  const now = engine.now();
  const options: ClaimOptions = { minIdleMs, idleMs: null, timeMs: null, retryCount: null, force: false, justId };
  const takeover = takeoverOf(engine, key, group, consumer, now, now, options);
  const scanMax = count * AUTOCLAIM_SCAN_FACTOR;
  // One row more than we may look at tells where the next call starts.
  const candidates = engine.driver.pendingFrom(key, group, start, scanMax + 1);
  const rows: TaskRecord[] = [];
  let examined = 0;
  for (; examined < Math.min(candidates.length, scanMax) && rows.length < count; examined++) {
    const c = candidates[examined];
    if (c.deliveredAt > takeover.deliveredBy) continue;
    const row = engine.driver.takeOver({ ...takeover, ms: c.ms, seq: c.seq });
    if (row) rows.push(row);
  }
  const after = candidates[examined];
  afterClaims(engine, key, group, consumer, now, takeover.leaseUntil, rows.length);
  return { next: after ? { ms: after.ms, seq: after.seq } : MIN_ID, entries: engine.entriesOf(key, rows), deleted: [] };
}

function takeoverOf(
  engine: Engine,
  key: string,
  group: string,
  consumer: string,
  now: number,
  delivered: number,
  options: ClaimOptions,
): Omit<Takeover, "ms" | "seq"> {
  return {
    queue: key,
    group,
    worker: consumer,
    leaseUntil: now + engine.effective(key).visibilityTimeoutMs,
    deliveredAt: delivered,
    deliveredBy: now - Math.max(0, options.minIdleMs),
    retryCount: options.retryCount,
    justId: options.justId,
    anyGroup: options.force,
    // Claims on a dead view hand out dead letters for inspection: they count no delivery.
    attemptsAdded: isDeadView(key) ? 0 : 1,
  };
}

function afterClaims(engine: Engine, key: string, group: string, consumer: string, now: number, lease: number, claimed: number): void {
  if (claimed === 0) return;
  // Like Redis, a consumer is recorded (seen and active) once it has claimed something.
  engine.driver.touchConsumer(queueOf(key), group, consumer, now, now);
  engine.leaseUntil(lease);
}
