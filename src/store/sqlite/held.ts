// The in-flight tasks of each key, held in memory by the SQLite driver: who holds each one,
// through which group, since when, and until when its lease runs. XPENDING, XCLAIM, XAUTOCLAIM,
// XREADGROUP's own-history reads and lease expiry are answered from here, so task_state needs
// no index of in-flight tasks: that partial index cost every claim one b-tree insert and every
// ack one delete, a third of their time (docs/storage.md, "Held tasks in memory").
//
// This is the truth about what is in flight: a claim is held here first and written to
// task_state later (by its ack or release, or by the timer once it is older than the claim
// write delay), so most claims cost no statement at all. At start nothing is in flight (a
// restart ends every lease). Each turn's changes are journaled, so a rollback puts back what
// the turn changed here, as the database puts back its rows.

import type { Id } from "../driver.ts";
import { heapPop, heapPush } from "./heap.ts";

/** One in-flight task. Never changed in place: a new delivery replaces it, so old references go stale. */
export interface HeldTask {
  readonly ms: number;
  readonly seq: number;
  readonly group: string;
  readonly worker: string;
  readonly deliveredAt: number;
  readonly attempts: number;
  readonly leaseUntil: number | null;
  /** The claim is in task_state (status in flight, holder, attempts); false while only here. */
  written: boolean;
  /** Set once the task is no longer held (or was replaced): ordered lists skip it. */
  gone: boolean;
}

export type HeldFields = Omit<HeldTask, "gone">;

/** One change a turn made to a task: how it was held just before it (null: not held). */
interface JournalEntry {
  key: number;
  ms: number;
  seq: number;
  before: HeldFields | null;
}

/** Gone entries a group's list may carry beyond its live ones before it is compacted. */
const GONE_ENTRIES_MIN = 64;

const before = (a: Id, b: Id) => a.ms < b.ms || (a.ms === b.ms && a.seq < b.seq);

/** Ids below 2^41 ms with a sequence below 4096 pack into one exact number; others use a string. */
function idKey(ms: number, seq: number): number | string {
  return seq < 4096 && ms < 2 ** 41 ? ms * 4096 + seq : `${ms}-${seq}`;
}

/** A group's in-flight tasks in id order (XPENDING's order). Claims mostly append. */
export class GroupHeld {
  private entries: HeldTask[] = [];
  live = 0;

  insert(task: HeldTask): void {
    const entries = this.entries;
    const last = entries[entries.length - 1];
    if (!last || before(last, task)) entries.push(task);
    else entries.splice(this.lowerBound(task), 0, task);
    this.live++;
  }

  /** The entry was marked gone by its owner; compact once gone entries pile up. */
  removed(): void {
    this.live--;
    if (this.entries.length > 2 * this.live + GONE_ENTRIES_MIN) this.entries = this.entries.filter((t) => !t.gone);
  }

  /** Index of the first entry at or after `id`. */
  private lowerBound(id: Id): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(this.entries[mid], id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Live tasks from `start` on (inclusive), in id order. */
  *from(start: Id): Generator<HeldTask> {
    const entries = this.entries;
    for (let i = this.lowerBound(start); i < entries.length; i++) if (!entries[i].gone) yield entries[i];
  }

  first(): HeldTask | null {
    for (const t of this.entries) if (!t.gone) return t;
    return null;
  }

  last(): HeldTask | null {
    for (let i = this.entries.length - 1; i >= 0; i--) if (!this.entries[i].gone) return this.entries[i];
    return null;
  }

  // --- XPENDING and XAUTOCLAIM's views -----------------------------------------------------

  /** How many tasks each holder has, by holder name (XPENDING's summary). */
  byWorker(): { worker: string; count: number }[] {
    const counts = new Map<string, number>();
    for (const t of this.from(FIRST_ID)) counts.set(t.worker, (counts.get(t.worker) ?? 0) + 1);
    return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([worker, count]) => ({ worker, count }));
  }

  /** Tasks from `start` to `end` (inclusive) delivered at or before `deliveredBy`, of `worker` if given; `count` at most. */
  range(start: Id, end: Id, deliveredBy: number, worker: string | null, count: number): HeldTask[] {
    const out: HeldTask[] = [];
    for (const t of this.from(start)) {
      if (out.length >= count || before(end, t)) break;
      if (t.deliveredAt <= deliveredBy && (worker === null || t.worker === worker)) out.push(t);
    }
    return out;
  }
}

const FIRST_ID: Id = { ms: 0, seq: 0 };

class KeyHeld {
  readonly byId = new Map<number | string, HeldTask>();
  readonly groups = new Map<string, GroupHeld>();
}

interface LeaseEntry {
  at: number;
  key: number;
  task: HeldTask;
}

const leaseBefore = (a: LeaseEntry, b: LeaseEntry) => a.at < b.at;

/** Every key's in-flight tasks, and their leases by deadline. */
export class HeldTasks {
  private keys = new Map<number, KeyHeld>();
  /** Min-heap by lease end; entries of tasks gone since are skipped, and dropped when they pile up. */
  private leases: LeaseEntry[] = [];
  private total = 0;
  /** Claims not written yet, oldest first (entries gone or written since are skipped). */
  private unwritten: { key: number; task: HeldTask }[] = [];
  private unwrittenHead = 0;
  /** The open turn's changes in order, for undoTurn(); null between turns. */
  private journal: JournalEntry[] | null = null;

  get size(): number {
    return this.total;
  }

  clear(): void {
    this.keys = new Map();
    this.leases = [];
    this.total = 0;
    this.unwritten = [];
    this.unwrittenHead = 0;
  }

  // --- the turn's journal ----------------------------------------------------------------

  beginTurn(): void {
    this.journal = [];
  }

  endTurn(): void {
    this.journal = null;
  }

  /** The turn rolled back: every task it changed is held again as before it (or not at all). */
  undoTurn(): void {
    const journal = this.journal;
    this.journal = null;
    if (!journal) return;
    // Newest first, so each task ends as it was before the turn's first change to it.
    for (let i = journal.length - 1; i >= 0; i--) {
      const { key, ms, seq, before } = journal[i];
      this.dropQuietly(key, ms, seq);
      if (before) this.hold(key, before);
    }
  }

  private note(key: number, ms: number, seq: number, current: HeldTask | undefined): void {
    this.journal?.push({ key, ms, seq, before: current ? copyFields(current) : null });
  }

  // --- holding -----------------------------------------------------------------------------

  /** The task is in flight now, as given (replacing what was held for its id). */
  hold(key: number, fields: HeldFields): HeldTask {
    let held = this.keys.get(key);
    if (!held) {
      held = new KeyHeld();
      this.keys.set(key, held);
    }
    const id = idKey(fields.ms, fields.seq);
    const old = held.byId.get(id);
    this.note(key, fields.ms, fields.seq, old);
    if (old) this.release(held, old);
    const task: HeldTask = { ...fields, gone: false };
    held.byId.set(id, task);
    let group = held.groups.get(task.group);
    if (!group) {
      group = new GroupHeld();
      held.groups.set(task.group, group);
    }
    group.insert(task);
    this.total++;
    if (task.leaseUntil !== null) this.pushLease({ at: task.leaseUntil, key, task });
    if (!task.written) this.unwritten.push({ key, task });
    return task;
  }

  /** The claim is in task_state now. */
  markWritten(key: number, task: HeldTask): void {
    this.note(key, task.ms, task.seq, task);
    task.written = true;
  }

  /** Up to `limit` held tasks whose claim is not written and was made at or before `cutoff`, oldest first. */
  unwrittenSince(cutoff: number, limit: number): { key: number; task: HeldTask }[] {
    const out: { key: number; task: HeldTask }[] = [];
    for (let i = this.unwrittenHead; i < this.unwritten.length && out.length < limit; i++) {
      const entry = this.unwritten[i];
      if (entry.task.gone || entry.task.written) continue;
      if (entry.task.deliveredAt > cutoff) break;
      out.push(entry);
    }
    return out;
  }

  /** When the oldest unwritten claim was made; null when every held claim is written. */
  oldestUnwritten(): number | null {
    const list = this.unwritten;
    while (this.unwrittenHead < list.length && (list[this.unwrittenHead].task.gone || list[this.unwrittenHead].task.written)) this.unwrittenHead++;
    if (this.unwrittenHead > 1024 && this.unwrittenHead * 2 > list.length) {
      this.unwritten = list.slice(this.unwrittenHead);
      this.unwrittenHead = 0;
    }
    return this.unwrittenHead < this.unwritten.length ? this.unwritten[this.unwrittenHead].task.deliveredAt : null;
  }

  get(key: number, ms: number, seq: number): HeldTask | undefined {
    return this.keys.get(key)?.byId.get(idKey(ms, seq));
  }

  /** The task is no longer in flight. True if it was. */
  drop(key: number, ms: number, seq: number): boolean {
    const task = this.keys.get(key)?.byId.get(idKey(ms, seq));
    // Nothing held: nothing to journal (a trim of 10,000 waiting rows asks for each).
    if (!task) return false;
    this.note(key, ms, seq, task);
    return this.dropQuietly(key, ms, seq);
  }

  private dropQuietly(key: number, ms: number, seq: number): boolean {
    const held = this.keys.get(key);
    const id = idKey(ms, seq);
    const task = held?.byId.get(id);
    if (!held || !task) return false;
    held.byId.delete(id);
    this.release(held, task);
    if (held.byId.size === 0) this.keys.delete(key);
    return true;
  }

  private release(held: KeyHeld, task: HeldTask): void {
    task.gone = true;
    this.total--;
    const group = held.groups.get(task.group)!;
    group.removed();
    if (group.live === 0) held.groups.delete(task.group);
  }

  /** Every task of the key is gone (DEL, or all its rows deleted). */
  forget(key: number): void {
    const held = this.keys.get(key);
    if (!held) return;
    for (const task of held.byId.values()) {
      this.note(key, task.ms, task.seq, task);
      task.gone = true;
    }
    this.total -= held.byId.size;
    this.keys.delete(key);
  }

  group(key: number, group: string): GroupHeld | undefined {
    return this.keys.get(key)?.groups.get(group);
  }

  count(key: number): number {
    return this.keys.get(key)?.byId.size ?? 0;
  }

  /** The newest in-flight id of the key, through any group. */
  newest(key: number): Id | null {
    let newest: HeldTask | null = null;
    for (const group of this.keys.get(key)?.groups.values() ?? []) {
      const last = group.last();
      if (last && (!newest || before(newest, last))) newest = last;
    }
    return newest ? { ms: newest.ms, seq: newest.seq } : null;
  }

  /** Up to `limit` tasks whose lease ended at or before `now`, earliest first; they stay held until dropped. */
  expired(now: number, limit: number): { key: number; task: HeldTask }[] {
    const out: { key: number; task: HeldTask }[] = [];
    const taken: LeaseEntry[] = [];
    while (out.length < limit && this.leases.length > 0 && this.leases[0].at <= now) {
      const entry = this.popLease();
      if (entry.task.gone) continue;
      out.push(entry);
      taken.push(entry);
    }
    // Not dropped here: if the caller's statement fails, the turn rolls back and this is rebuilt.
    for (const entry of taken) this.pushLease(entry);
    return out;
  }

  /** When the earliest lease ends; null when no held task has one. */
  nextLease(): number | null {
    while (this.leases.length > 0 && this.leases[0].task.gone) this.popLease();
    return this.leases.length > 0 ? this.leases[0].at : null;
  }

  private pushLease(entry: LeaseEntry): void {
    // Acked tasks leave their entries behind until they surface; rebuild once they outnumber the live ones.
    if (this.leases.length > 2 * this.total + 1024) this.rebuildLeases();
    heapPush(this.leases, entry, leaseBefore);
  }

  private popLease(): LeaseEntry {
    return heapPop(this.leases, leaseBefore);
  }

  private rebuildLeases(): void {
    const live = this.leases.filter((e) => !e.task.gone).sort((a, b) => a.at - b.at);
    // A sorted array is a valid min-heap.
    this.leases = live;
  }
}

function copyFields(task: HeldTask): HeldFields {
  const { ms, seq, group, worker, deliveredAt, attempts, leaseUntil, written } = task;
  return { ms, seq, group, worker, deliveredAt, attempts, leaseUntil, written };
}
