// Consumers' seen-times (XINFO CONSUMERS `idle`, XINFO STREAM FULL `seen-time`) and active-times
// (`inactive`: their last delivery) kept in memory, so an empty poll or a delivery changes no
// consumer row: they reach the consumers table in the next turn that writes anyway (Engine's
// before-commit hook), or at shutdown. A crash loses only those times since the last such turn.
import type { Driver } from "../store/driver.ts";

interface Seen {
  queue: string;
  group: string;
  name: string;
  /** Latest seen-time, ms since epoch; never older than the row's. */
  at: number;
  /** Latest delivery to it known here (0: none); the row's may be older. */
  active: number;
}

export class ConsumerSeen {
  /** queue -> group -> consumer, for consumers known to have a row (looked up on first use). */
  private readonly byQueue = new Map<string, Map<string, Map<string, Seen>>>();
  /** Entries whose `at` is newer than their row's seen_at. */
  private readonly dirty = new Set<Seen>();

  constructor(private readonly driver: Driver) {}

  /**
   * A command from `name`: moves its seen-time to `now` in memory. False when the consumer has
   * no row, so the caller must create it (a real write).
   */
  touch(queue: string, group: string, name: string, now: number, active = false): boolean {
    let entry = this.get(queue, group, name);
    if (!entry) {
      const stored = this.driver.consumerSeenAt(queue, group, name);
      if (stored === null) return false;
      entry = this.add(queue, group, name, stored);
    }
    if (now > entry.at) {
      entry.at = now;
      this.dirty.add(entry);
    }
    if (active && now > entry.active) {
      entry.active = now;
      this.dirty.add(entry);
    }
    return true;
  }

  /** The active-time to report, given the row's. */
  activeAt(queue: string, group: string, name: string, stored: number | null): number | null {
    const entry = this.get(queue, group, name);
    return entry && entry.active > (stored ?? 0) ? entry.active : stored;
  }

  /** The consumer's row was just written (created, or given a task with) seen_at = `at`. */
  written(queue: string, group: string, name: string, at: number): void {
    const entry = this.get(queue, group, name);
    if (!entry) {
      this.add(queue, group, name, at);
    } else if (at >= entry.at) {
      entry.at = at;
      this.dirty.delete(entry);
    }
  }

  /** The seen-time to report, given the row's (XCLAIM writes rows without passing here). */
  seenAt(queue: string, group: string, name: string, stored: number): number {
    const entry = this.get(queue, group, name);
    return entry && entry.at > stored ? entry.at : stored;
  }

  /** DEL, XGROUP DESTROY, DELCONSUMER: rows gone; a later poll creates the consumer anew. */
  forget(queue: string, group?: string, name?: string): void {
    const groups = this.byQueue.get(queue);
    if (!groups) return;
    for (const [g, consumers] of groups) {
      if (group !== undefined && g !== group) continue;
      for (const [n, entry] of consumers) {
        if (name !== undefined && n !== name) continue;
        this.dirty.delete(entry);
        consumers.delete(n);
      }
      if (consumers.size === 0) groups.delete(g);
    }
    if (groups.size === 0) this.byQueue.delete(queue);
  }

  get hasUnsaved(): boolean {
    return this.dirty.size > 0;
  }

  /** Writes every seen-time held only in memory. Only inside a transaction that writes anyway. */
  save(): void {
    this.driver.saveSeenAt([...this.dirty].map((e) => ({ queue: e.queue, group: e.group, name: e.name, at: e.at, activeAt: e.active || null })));
    this.dirty.clear();
  }

  /**
   * After a rollback: forget consumers whose row is gone (created in the failed turn), and mark
   * again the seen-times the failed turn had saved. Rare, so one lookup per known consumer.
   */
  afterRollback(): void {
    try {
      for (const groups of this.byQueue.values()) {
        for (const consumers of groups.values()) {
          for (const entry of consumers.values()) {
            const stored = this.driver.consumerSeenAt(entry.queue, entry.group, entry.name);
            if (stored === null) this.forget(entry.queue, entry.group, entry.name);
            else if (entry.at > stored) this.dirty.add(entry);
            else entry.at = stored;
          }
        }
      }
    } catch {
      // Storage unreadable: start over; each consumer is looked up again on its next command.
      this.byQueue.clear();
      this.dirty.clear();
    }
  }

  private get(queue: string, group: string, name: string): Seen | undefined {
    return this.byQueue.get(queue)?.get(group)?.get(name);
  }

  private add(queue: string, group: string, name: string, at: number): Seen {
    let groups = this.byQueue.get(queue);
    if (!groups) this.byQueue.set(queue, (groups = new Map()));
    let consumers = groups.get(group);
    if (!consumers) groups.set(group, (consumers = new Map()));
    const entry: Seen = { queue, group, name, at, active: 0 };
    consumers.set(name, entry);
    return entry;
  }
}
