// WATCH support: a version counter per watched queue, bumped by every storage write that changes
// the queue (push, deliver, ack, nack, delete, trim, expiry, group and consumer changes, DEL), by
// any client or timer. EXEC compares the versions seen at WATCH time with the current ones.
//
// Writes are noticed at the storage boundary (a wrapper around the Driver), so no code path that
// changes a queue can forget to bump: the queue layer's modules (tasks, takeover, groups, keyspace) call the driver directly.
import type { Driver, Moved } from "../store/driver.ts";

const DEAD_SUFFIX = "::dead";

/** A queue and its dead view share one version: a task moving between them changes both. */
const versionKey = (key: string) => (key.endsWith(DEAD_SUFFIX) ? key.slice(0, -DEAD_SUFFIX.length) : key);

interface Slot {
  version: number;
  /** WatchLists holding this key; the slot is dropped at zero, so only watched keys cost memory. */
  watchers: number;
}

export class KeyVersions {
  private readonly slots = new Map<string, Slot>();

  /** True while any client watches a key: writes skip all bookkeeping otherwise. */
  get active(): boolean {
    return this.slots.size > 0;
  }

  bump(key: string): void {
    const slot = this.slots.get(versionKey(key));
    if (slot) slot.version++;
  }

  /** A new, empty set of watched keys for one client. */
  list(): WatchList {
    return new WatchList(this.slots);
  }
}

/** One client's watched keys, each with the version it had when WATCH ran. */
export class WatchList {
  private readonly seen = new Map<string, number>();

  constructor(private readonly slots: Map<string, Slot>) {}

  get size(): number {
    return this.seen.size;
  }

  /** Watching a key twice keeps the first version, as Redis does: a change in between still counts. */
  add(key: string): void {
    const name = versionKey(key);
    if (this.seen.has(name)) return;
    let slot = this.slots.get(name);
    if (!slot) this.slots.set(name, (slot = { version: 0, watchers: 0 }));
    slot.watchers++;
    this.seen.set(name, slot.version);
  }

  /** True when a watched key was written since it was watched. */
  changed(): boolean {
    for (const [name, version] of this.seen) if (this.slots.get(name)?.version !== version) return true;
    return false;
  }

  /** UNWATCH, EXEC, DISCARD, RESET and disconnect. */
  clear(): void {
    for (const name of this.seen.keys()) {
      const slot = this.slots.get(name);
      if (slot && --slot.watchers === 0) this.slots.delete(name);
    }
    this.seen.clear();
  }
}

type KeysOf<K extends keyof Driver> = Driver[K] extends (...args: infer A) => infer R ? (args: A, result: R) => Iterable<string> : never;

const none: string[] = [];
const movedKeys = (moved: Moved[]) => moved.map((m) => m.queue);

/**
 * The keys each writing Driver call changed, judged from its arguments and result (a call that
 * changed nothing bumps nothing). Retention purges of done tasks are left out on purpose: they
 * remove work already finished, and counting them would abort unrelated transactions at random.
 * Seen-times (saveSeenAt) are advisory and left out too.
 */
const WRITES = {
  createQueue: ([name]) => [name],
  saveQueueSettings: ([queue]) => [queue.name],
  deleteQueue: ([name]) => [name],
  deleteTasksOf: ([key]) => [key],
  createGroup: ([queue]) => [queue],
  deleteGroup: ([queue]) => [queue],
  touchConsumer: ([queue]) => [queue],
  createConsumer: ([queue], created) => (created ? [queue] : none),
  deleteConsumer: ([queue]) => [queue],
  insertTask: ([task]) => [task.queue],
  deliver: ([key], rows) => (rows.length > 0 ? [key] : none),
  ack: ([key], acked) => (acked > 0 ? [key] : none),
  release: ([key], moved) => (moved ? [key, moved.queue] : none),
  releaseExpired: (_args, moved) => movedKeys(moved),
  releaseConsumer: ([key], released) => (released > 0 ? [key] : none),
  deleteTask: ([key], deleted) => (deleted > 0 ? [key] : none),
  expireTtl: (_args, moved) => movedKeys(moved),
  trimToLength: ([key], trimmed) => (trimmed > 0 ? [key] : none),
  trimBelowId: ([key], trimmed) => (trimmed > 0 ? [key] : none),
  takeOver: ([takeover], row) => (row ? [takeover.queue] : none),
  takeWaiting: ([takeover], row) => (row ? [takeover.queue] : none),
} satisfies { [K in keyof Driver]?: KeysOf<K> };

/**
 * Driver members that change no queue a client can watch: the turn, start-up, reads, seen-times
 * and retention purges. With WRITES this must name every member of Driver (checked below), so a
 * method added to the interface fails to compile until someone decides whether it bumps.
 */
const PASS_THROUGH = [
  "location", "claimWriteDelayMs", "begin", "commit", "rollback", "inTransaction", "wroteSinceBegin", "failureOf", "close",
  "queues", "groupNames", "saveQueueProgress",
  "consumerSeenAt", "saveSeenAt", "consumers", "consumerCount",
  "nextSizes", "taskState", "purgeDone", "nextDue",
  "countState", "countAvailableUpTo", "countByState", "firstTask", "lastTask", "hasTasks", "range", "newestInState",
  "ownPending", "pendingByWorker", "pendingCount", "pendingBounds", "pending", "pendingFrom",
] as const satisfies readonly (keyof Driver)[];
type Unclassified = Exclude<keyof Driver, keyof typeof WRITES | (typeof PASS_THROUGH)[number]>;
// Fails to compile while any Driver member is in neither list.
const everyMemberClassified: Record<Unclassified, never> = {};
void everyMemberClassified;

/**
 * The driver as the engine uses it, with the writes above bumping `versions`. Every other member
 * (reads, begin/commit, getters) passes straight through to the driver itself.
 */
export function versionedDriver(driver: Driver, versions: KeyVersions): Driver {
  const wrapped = new Map<PropertyKey, unknown>();
  for (const [name, keysOf] of Object.entries(WRITES)) {
    const method = (driver as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
    const keys = keysOf as unknown as (args: unknown[], result: unknown) => Iterable<string>;
    wrapped.set(name, (...args: unknown[]) => {
      const result = method.apply(driver, args);
      if (versions.active) for (const key of keys(args, result)) versions.bump(key);
      return result;
    });
  }
  return new Proxy(driver, {
    get(target, prop) {
      const own = wrapped.get(prop);
      if (own) return own;
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      // Bound once and kept: the hot path (a push, a delivery) should not allocate per call.
      const bound = value.bind(target);
      wrapped.set(prop, bound);
      return bound;
    },
  });
}
