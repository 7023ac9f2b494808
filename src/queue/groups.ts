// Consumer groups and consumers as records: what XGROUP changes (DESTROY, CREATECONSUMER,
// DELCONSUMER) and XINFO GROUPS/CONSUMERS shows. Removing a group or a consumer never drops a task.
import { type Engine, isDeadView, queueOf } from "./engine.ts";
import { compareIds, MIN_ID, type StreamId } from "./ids.ts";

export interface GroupInfo {
  name: string;
  consumers: number;
  /** In-flight tasks delivered through this group. */
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
  /** Last successful delivery or takeover, ms since epoch; null when it never got a task. */
  activeAt: number | null;
}

/**
 * Groups share the queue's tasks, so they share its progress: last-delivered-id is the newest
 * task in flight or done, lag is the number of tasks waiting (XLEN), entries-read is what was
 * added and is no longer waiting (null before anything was delivered, as for a fresh Redis group).
 */
export function groupInfos(engine: Engine, key: string): GroupInfo[] {
  const queue = queueOf(key);
  const lastDeliveredId = newestDelivered(engine, key);
  const waiting = engine.length(key);
  const added = isDeadView(key) ? null : (engine.streamInfo(key)?.entriesAdded ?? 0);
  const delivered = compareIds(lastDeliveredId, MIN_ID) > 0;
  const entriesRead = added === null || !delivered ? null : Math.max(0, added - waiting);
  return engine.driver.groupNames(queue).map((name) => ({
    name,
    consumers: engine.driver.consumerCount(queue, name),
    pending: engine.driver.pendingCount(key, name),
    lastDeliveredId,
    entriesRead,
    lag: waiting,
  }));
}

function newestDelivered(engine: Engine, key: string): StreamId {
  let newest = MIN_ID;
  for (const state of ["in_flight", "done"] as const) {
    const id = engine.driver.newestInState(key, state);
    if (id && compareIds(id, newest) > 0) newest = { ms: id.ms, seq: id.seq };
  }
  return newest;
}

export function consumerInfos(engine: Engine, key: string, group: string): ConsumerInfo[] {
  // One pass over the group's in-flight tasks counts them for every consumer at once.
  const pending = new Map(engine.driver.pendingByWorker(key, group).map((r) => [r.worker, r.count]));
  const queue = queueOf(key);
  return engine.driver.consumers(queue, group).map((c) => ({
    name: c.name,
    pending: pending.get(c.name) ?? 0,
    seenAt: engine.seen.seenAt(queue, group, c.name, c.seenAt),
    activeAt: c.activeAt,
  }));
}

/** XGROUP CREATECONSUMER: false when the consumer already exists. */
export function createConsumer(engine: Engine, key: string, group: string, consumer: string): boolean {
  const now = engine.now();
  if (!engine.driver.createConsumer(queueOf(key), group, consumer, now)) return false;
  engine.seen.written(queueOf(key), group, consumer, now);
  return true;
}

/**
 * XGROUP DELCONSUMER: removes the consumer and gives back its in-flight tasks of `key`: they
 * are available again at once (dead letters go back to the dead view), and the withdrawn
 * delivery is not counted against max_attempts. Returns how many tasks it held.
 */
export function deleteConsumer(engine: Engine, key: string, group: string, consumer: string): number {
  const dead = isDeadView(key);
  const released = engine.driver.releaseConsumer(
    key,
    group,
    consumer,
    dead ? "dead" : "available",
    !dead,
    engine.now(),
    `consumer '${consumer}' deleted (XGROUP DELCONSUMER)`,
  );
  engine.driver.deleteConsumer(queueOf(key), group, consumer);
  engine.seen.forget(queueOf(key), group, consumer);
  if (released > 0) engine.tasksReturned(key);
  return released;
}

/**
 * XGROUP DESTROY: removes the group and its consumers. Its in-flight tasks stay in flight:
 * their workers may still ack them, and an unacked one comes back when its lease runs out.
 * Readers blocked through the group get Redis 7's NOGROUP reply at once.
 */
export function destroyGroup(engine: Engine, key: string, group: string): boolean {
  if (!engine.hasGroup(key, group)) return false;
  engine.driver.deleteGroup(queueOf(key), group);
  engine.forgetGroup(key, group);
  engine.groupDestroyed(key, group);
  return true;
}
