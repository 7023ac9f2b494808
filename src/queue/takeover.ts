// Taking over held tasks (XCLAIM, XAUTOCLAIM): a task in flight moves to another consumer with a
// fresh lease. A takeover moves a task, never drops one. (Handing out waiting tasks is delivery:
// Engine.deliver.)
import type { TaskRecord, Takeover } from "../store/driver.ts";
import type { Engine, Entry } from "./engine.ts";
import { MIN_ID, type StreamId } from "./ids.ts";
import { isDeadView, queueOf } from "./queues.ts";

/** XAUTOCLAIM looks at up to COUNT times this many pending entries per call, as Redis does. */
export const AUTO_TAKEOVER_SCAN_FACTOR = 10;

export interface TakeoverOptions {
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

export interface AutoTakeoverResult {
  next: StreamId;
  entries: Entry[];
  /** Ids pending but no longer in the stream: always empty in ezra, where a pending task cannot vanish. */
  deleted: StreamId[];
}

/**
 * XCLAIM: gives each listed task idle at least `minIdleMs` to `consumer` with a fresh lease.
 * The holder taking over its own task keeps it alive (a heartbeat) without counting a delivery.
 * Returns the tasks taken over, in the order of `ids`.
 */
export function takeOver(engine: Engine, key: string, group: string, consumer: string, ids: StreamId[], options: TakeoverOptions): Entry[] {
  const now = engine.now();
  let delivered = options.timeMs ?? (options.idleMs !== null ? now - options.idleMs : now);
  if (delivered < 0 || delivered > now) delivered = now; // as Redis: no delivery in the future
  const takeover = takeoverFields(engine, key, group, consumer, now, delivered, options);
  const rows: TaskRecord[] = [];
  for (const id of ids) {
    const at = { ...takeover, ms: id.ms, seq: id.seq };
    let row = engine.driver.takeOver(at);
    if (!row && options.force) row = engine.driver.takeWaiting(at, isDeadView(key) ? "dead" : "available");
    if (row) rows.push(row);
  }
  afterTakeover(engine, key, group, consumer, now, takeover.leaseUntil, rows.length);
  return engine.entriesOf(key, rows);
}

/**
 * XAUTOCLAIM: takes over up to `count` of the group's tasks idle at least `minIdleMs`, scanning
 * from `start` in id order. `next` is where the following call should start (0-0: done).
 */
export function autoTakeOver(
  engine: Engine,
  key: string,
  group: string,
  consumer: string,
  minIdleMs: number,
  start: StreamId,
  count: number,
  justId: boolean,
): AutoTakeoverResult {
  const now = engine.now();
  const options: TakeoverOptions = { minIdleMs, idleMs: null, timeMs: null, retryCount: null, force: false, justId };
  const takeover = takeoverFields(engine, key, group, consumer, now, now, options);
  const scanMax = count * AUTO_TAKEOVER_SCAN_FACTOR;
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
  afterTakeover(engine, key, group, consumer, now, takeover.leaseUntil, rows.length);
  return { next: after ? { ms: after.ms, seq: after.seq } : MIN_ID, entries: engine.entriesOf(key, rows), deleted: [] };
}

function takeoverFields(
  engine: Engine,
  key: string,
  group: string,
  consumer: string,
  now: number,
  delivered: number,
  options: TakeoverOptions,
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
    // Takeovers on a dead view hand out dead letters for inspection: they count no delivery.
    attemptsAdded: isDeadView(key) ? 0 : 1,
  };
}

function afterTakeover(engine: Engine, key: string, group: string, consumer: string, now: number, lease: number, taken: number): void {
  if (taken === 0) return;
  // Like Redis, a consumer is recorded (seen and active) once it has taken something over.
  engine.driver.touchConsumer(queueOf(key), group, consumer, now, now);
  engine.leaseUntil(lease);
}
