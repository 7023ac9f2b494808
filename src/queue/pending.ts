// A group's pending entries (XPENDING, XINFO STREAM FULL): the queue's in-flight tasks
// delivered through that group, read straight from storage.
import type { PendingRecord } from "../store/driver.ts";
import type { Engine } from "./engine.ts";
import { MIN_ID, type StreamId } from "./ids.ts";

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

