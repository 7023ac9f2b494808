// Consumer groups and consumers as records: the cache of group names, the consumers XGROUP
// CREATECONSUMER/DELCONSUMER change, and what XINFO GROUPS/CONSUMERS shows (XGROUP CREATE and
// DESTROY go through the engine, which also answers blocked readers). Removing a group or a
// consumer never drops a task.
import type { Driver } from "../store/driver.ts";
import type { Engine } from "./engine.ts";
import { compareIds, MIN_ID, type StreamId } from "./ids.ts";
import { isDeadView, queueOf } from "./queues.ts";

/** The names of each queue's groups, cached from storage (a dead view shares its queue's groups). */
export class GroupNames {
  private byQueue = new Map<string, Set<string>>();

  constructor(
    private readonly driver: Driver,
    private readonly now: () => number,
  ) {}

  /** (Re)reads the groups of `queues` from storage: at start-up, and after a rollback. */
  load(queues: string[]): void {
    this.byQueue = new Map(queues.map((queue) => [queue, new Set(this.driver.groupNames(queue))]));
  }

  has(key: string, group: string): boolean {
    return this.byQueue.get(queueOf(key))?.has(group) ?? false;
  }

  names(key: string): string[] {
    return [...(this.byQueue.get(queueOf(key)) ?? [])];
  }

  /** Records `group` of `queue` unless it exists; true when it was created now. */
  ensure(queue: string, group: string): boolean {
    let groups = this.byQueue.get(queue);
    if (groups?.has(group)) return false;
    this.driver.createGroup(queue, group, this.now());
    if (!groups) this.byQueue.set(queue, (groups = new Set()));
    groups.add(group);
    return true;
  }

  /** XGROUP DESTROY: drops a group once its rows are deleted. */
  forget(key: string, group: string): void {
    this.byQueue.get(queueOf(key))?.delete(group);
  }

  /** DEL: drops a queue's groups once its rows are deleted. */
  forgetQueue(queue: string): void {
    this.byQueue.delete(queue);
  }
}

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
    activeAt: engine.seen.activeAt(queue, group, c.name, c.activeAt),
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
