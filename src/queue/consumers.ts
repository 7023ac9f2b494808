// Consumer groups and consumers as records (XINFO GROUPS/CONSUMERS, XGROUP DESTROY,
// CREATECONSUMER, DELCONSUMER). Removing a group or a consumer never drops a task.
import { queueOf } from "./claims.ts";
import { type Engine, isDeadView } from "./engine.ts";
import { compareIds, MIN_ID, type StreamId } from "./ids.ts";

export interface GroupInfo {
  name: string;
  consumers: number;
  /** In-flight tasks claimed through this group. */
  pending: number;
  lastDeliveredId: StreamId;
  entriesRead: number | null;
  lag: number | null;
}

export interface ConsumerInfo {
  name: string;
  pending: number;
  /** Last command from this consumer, ms since epoch (polls keep it in memory: queue/seen.ts). */
  seenAt: number;
  /** Last successful claim, ms since epoch; null when it never claimed anything. */
  activeAt: number | null;
}

/**
 * Groups share the queue's tasks, so they share its progress: last-delivered-id is the newest
 * task in flight or done, lag is the number of tasks waiting (XLEN), entries-read is what was
 * added and is no longer waiting (null before anything was delivered, as for a fresh Redis group).
 */
export function groupInfos(engine: Engine, key: string): GroupInfo[] {
  const sql = engine.store.claims;
  const queue = queueOf(key);
  const lastDeliveredId = newestDelivered(engine, key);
  const waiting = engine.length(key);
  const added = isDeadView(key) ? null : (engine.streamInfo(key)?.entriesAdded ?? 0);
  const delivered = compareIds(lastDeliveredId, MIN_ID) > 0;
  const entriesRead = added === null || !delivered ? null : Math.max(0, added - waiting);
  return engine.store.sql.groupsOf.all(queue).map((g) => ({
    name: g.name,
    consumers: sql.countConsumers.get(queue, g.name)?.n ?? 0,
    pending: sql.countPending.get(key, g.name)?.n ?? 0,
    lastDeliveredId,
    entriesRead,
    lag: waiting,
  }));
}

function newestDelivered(engine: Engine, key: string): StreamId {
  const sql = engine.store.claims;
  let newest = MIN_ID;
  for (const status of ["in_flight", "done"]) {
    const row = sql.newestWithStatus.get(key, status);
    if (row && compareIds(row, newest) > 0) newest = { ms: row.ms, seq: row.seq };
  }
  return newest;
}

export function consumerInfos(engine: Engine, key: string, group: string): ConsumerInfo[] {
  const sql = engine.store.claims;
  // One pass over the group's in-flight tasks counts them for every consumer at once.
  const pending = new Map(sql.pendingByConsumer.all(key, group).map((r) => [r.worker, r.n]));
  const queue = queueOf(key);
  return sql.consumersOf.all(queue, group).map((c) => ({
    name: c.name,
    pending: pending.get(c.name) ?? 0,
    seenAt: engine.seen.seenAt(queue, group, c.name, c.seen_at),
    activeAt: c.active_at,
  }));
}

/** XGROUP CREATECONSUMER: false when the consumer already exists. */
export function createConsumer(engine: Engine, key: string, group: string, consumer: string): boolean {
  const now = engine.now();
  if (engine.store.claims.insertConsumer.run(queueOf(key), group, consumer, now).changes === 0) return false;
  engine.seen.written(queueOf(key), group, consumer, now);
  return true;
}

/**
 * XGROUP DELCONSUMER: removes the consumer and gives back its in-flight tasks of `key`: they
 * are available again at once (dead letters go back to the dead view), and the withdrawn
 * delivery is not counted against max_attempts. Returns how many tasks it held.
 */
export function deleteConsumer(engine: Engine, key: string, group: string, consumer: string): number {
  const sql = engine.store.claims;
  const dead = isDeadView(key);
  const released = sql.releaseConsumer.run({
    queue: key,
    grp: group,
    worker: consumer,
    back: dead ? "dead" : "available",
    giveBack: dead ? 0 : 1,
    now: engine.now(),
    reason: `consumer '${consumer}' deleted (XGROUP DELCONSUMER)`,
  }).changes;
  sql.deleteConsumer.run(queueOf(key), group, consumer);
  engine.seen.forget(queueOf(key), group, consumer);
  if (released > 0) engine.tasksReturned(key);
  return released;
}

/**
 * XGROUP DESTROY: removes the group and its consumers. Its in-flight tasks stay in flight:
 * their workers may still ack them, and an unacked one comes back when its lease runs out.
 */
export function destroyGroup(engine: Engine, key: string, group: string): boolean {
  if (!engine.hasGroup(key, group)) return false;
  const sql = engine.store.claims;
  sql.deleteGroupConsumers.run(queueOf(key), group);
  sql.deleteGroup.run(queueOf(key), group);
  engine.forgetGroup(key, group);
  return true;
}
