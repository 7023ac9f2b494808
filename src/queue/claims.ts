// Pending entries and claims (XPENDING, XCLAIM, XAUTOCLAIM): a group's pending entries are the
// queue's in-flight tasks claimed through that group. A claim moves a task, never drops one.
import type { PendingRow } from "../store/claims-sql.ts";
import type { TaskRow } from "../store/store.ts";
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
  const sql = engine.store.claims;
  const consumers = sql.pendingByConsumer.all(key, group).map((r) => ({ name: r.worker, count: r.n }));
  const count = consumers.reduce((sum, c) => sum + c.count, 0);
  if (count === 0) return { count, first: null, last: null, consumers };
  return { count, first: sql.firstPending.get(key, group), last: sql.lastPending.get(key, group), consumers };
}

export function pendingEntries(engine: Engine, key: string, group: string, query: PendingQuery): PendingEntry[] {
  if (query.count <= 0) return [];
  const now = engine.now();
  const sql = engine.store.claims;
  const { start, end } = query;
  const cutoff = now - Math.max(0, query.minIdleMs);
  const rows =
    query.consumer === null
      ? sql.pendingRange.all(key, group, start.ms, start.seq, end.ms, end.seq, cutoff, query.count)
      : sql.pendingRangeOf.all(key, group, start.ms, start.seq, end.ms, end.seq, cutoff, query.count, query.consumer);
  return rows.map((row) => toPendingEntry(row, now));
}

/** Pending entries of one consumer (XINFO STREAM FULL), oldest first. */
export function pendingOf(engine: Engine, key: string, group: string, consumer: string | null, count: number): PendingEntry[] {
  const max = { ms: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER };
  return pendingEntries(engine, key, group, { start: MIN_ID, end: max, count, minIdleMs: 0, consumer });
}

function toPendingEntry(row: PendingRow, now: number): PendingEntry {
  return {
    id: { ms: row.ms, seq: row.seq },
    consumer: row.worker,
    deliveredAt: row.delivered_at,
    idleMs: Math.max(0, now - row.delivered_at),
    deliveries: row.attempts,
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
  const params = claimParams(engine, key, group, consumer, now, delivered, options);
  const sql = engine.store.claims;
  const rows: TaskRow[] = [];
  for (const id of ids) {
    const at = { ...params, ms: id.ms, seq: id.seq };
    let row = sql.claimPending.get(at);
    if (!row && options.force) {
      row = sql.claimWaiting.get({ ...at, from: isDeadView(key) ? "dead" : "available", inc: isDeadView(key) ? 0 : 1 });
    }
    if (row) rows.push(row);
  }
  afterClaims(engine, key, group, consumer, now, params.lease, rows.length);
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
  const params = claimParams(engine, key, group, consumer, now, now, options);
  const sql = engine.store.claims;
  const scanMax = count * AUTOCLAIM_SCAN_FACTOR;
  // One row more than we may look at tells where the next call starts.
  const candidates = sql.autoclaimScan.all(key, group, start.ms, start.seq, scanMax + 1);
  const rows: TaskRow[] = [];
  let examined = 0;
  for (; examined < Math.min(candidates.length, scanMax) && rows.length < count; examined++) {
    const c = candidates[examined];
    if (c.delivered_at > params.cutoff) continue;
    const row = sql.claimPending.get({ ...params, ms: c.ms, seq: c.seq });
    if (row) rows.push(row);
  }
  const after = candidates[examined];
  afterClaims(engine, key, group, consumer, now, params.lease, rows.length);
  return { next: after ? { ms: after.ms, seq: after.seq } : MIN_ID, entries: engine.entriesOf(key, rows), deleted: [] };
}

function claimParams(engine: Engine, key: string, group: string, consumer: string, now: number, delivered: number, options: ClaimOptions) {
  return {
    queue: key,
    grp: group,
    worker: consumer,
    lease: now + engine.effective(key).visibilityTimeoutMs,
    delivered,
    cutoff: now - Math.max(0, options.minIdleMs),
    retry: options.retryCount,
    justid: options.justId ? 1 : 0,
    force: options.force ? 1 : 0,
    // Claims on a dead view hand out dead letters for inspection: they count no delivery.
    inc: isDeadView(key) ? 0 : 1,
  };
}

function afterClaims(engine: Engine, key: string, group: string, consumer: string, now: number, lease: number, claimed: number): void {
  if (claimed === 0) return;
  // Like Redis, a consumer is recorded (seen and active) once it has claimed something.
  engine.store.sql.touchConsumer.run(queueOf(key), group, consumer, now, now);
  engine.leaseUntil(lease);
}
