// The waiting tasks of each key in delivery order, held in memory by the SQLite driver so a
// claim updates rows by key instead of searching an index for "the next waiting task" (that
// search and the index it needs were a third of the server's CPU: docs/storage.md).
//
// Read lazily: at start (and after a rollback) only each key's count is known, and ids are read
// from task_state in id order, a chunk at a time, as claims reach them (a keyed range read). A
// key with a backlog keeps one chunk in memory, not the backlog; once a key's rows are all read,
// pushes append here and keep their payloads, up to IDS_IN_MEMORY_MAX ids: pushes past that are
// left to be read back, so memory does not grow with the backlog.
//
// Entries may go stale (a waiting task deleted by XDEL, a trim or a ttl, or taken by XCLAIM
// FORCE). Such a removal marks the key `maybeStale`, and its claims then read each row back to
// check it still waits (one keyed lookup, never a wrong delivery); a key with no removal since
// its order was last empty or read claims from memory alone. Entries of held tasks are skipped
// by the driver. What must never happen is a waiting row with no entry here: every path that
// makes a task wait adds it (driver.ts).
//
// A pushed task also keeps its payload here until it is claimed, within a byte budget shared by
// all keys, so the claim need not read it back (3.9 us a task under load); tasks that come back
// or die are read from the database.

import { heapPop, heapPush } from "./heap.ts";

/** What a claim needs of a task it did not read: only ever cached for a task never delivered. */
export interface CachedTask {
  fields: string | Uint8Array;
  maxAttempts: number | null;
  bytes: number;
}

/** Payload bytes all waiting orders may hold, together. */
export class CacheBudget {
  used = 0;
  constructor(readonly max: number) {}
}

export interface WaitingId {
  ms: number;
  seq: number;
  cached?: CachedTask;
}

/**
 * Reads the waiting ids of one key after `after`, in id order, from `limit` rows; `last` is the
 * last row read, or null when fewer than `limit` were left (every row is read).
 */
export type WaitingLoader = (key: number, after: Id, limit: number) => { ids: Id[]; last: Id | null };

type Id = { ms: number; seq: number };

/** Rows a load reads at a time. */
const LOAD_ROWS = 1024;
/** Waiting ids a key keeps in memory (about 16 bytes each, plus cached payloads); the rest are read as claims reach them. */
const IDS_IN_MEMORY_MAX = 65_536;

/** Where a key's unread rows start: before every id. */
const BEFORE_ALL: Id = { ms: -1, seq: 0 };

/** Stale entries a key may carry beyond its live ones before it is reloaded (WaitingOrders.removed). */
const STALE_ENTRIES_MIN = 1024;

/** One key's waiting ids: pushes append in id order to a ring; tasks that come back out of order go to a heap. */
export class WaitingOrder {
  private ms = new Float64Array(64);
  private seq = new Float64Array(64);
  private cached: (CachedTask | undefined)[] = [];
  private head = 0;
  private tail = 0;
  /** Ids that came back (nack, expiry, restart) or died out of order, smallest first. */
  private readonly returned: { ms: number; seq: number }[] = [];
  /** Exact count of waiting rows, read or not (stale entries are not counted). */
  count = 0;
  /** The last row read from the database; null once all are read (pushes then append here). */
  private unreadAfter: Id | null = null;
  /** Some entry may name a task no longer waiting (deleted, or taken by XCLAIM FORCE). */
  maybeStale = false;

  constructor(
    private readonly budget: CacheBudget,
    private readonly key = 0,
    private readonly loader: WaitingLoader | null = null,
    private readonly idsInMemoryMax = IDS_IN_MEMORY_MAX,
  ) {}

  /** Forgets the ids in memory: they are read again from the database as claims reach them. */
  unload(): void {
    this.dropCache();
    this.head = this.tail = 0;
    this.returned.length = 0;
    this.unreadAfter = this.loader ? BEFORE_ALL : null;
    this.maybeStale = false;
  }

  /** Reads the next chunk of ids; false when every row was read already. */
  private loadMore(): boolean {
    if (!this.unreadAfter || !this.loader) return false;
    const { ids, last } = this.loader(this.key, this.unreadAfter, LOAD_ROWS);
    this.unreadAfter = last;
    for (const id of ids) this.append(id.ms, id.seq, undefined);
    return true;
  }

  get entries(): number {
    return this.tail - this.head + this.returned.length;
  }

  /** Adds an id that is waiting now; a pushed task's payload may come along (kept if the budget allows). */
  add(ms: number, seq: number, task?: CachedTask): void {
    const unread = this.unreadAfter;
    // Past the rows read so far: it is read in its turn (the driver writes pushes before any read).
    if (unread && (ms > unread.ms || (ms === unread.ms && seq > unread.seq))) return;
    const last = this.tail - 1;
    if (this.tail === this.head || ms > this.ms[last] || (ms === this.ms[last] && seq > this.seq[last])) {
      // A backlog stays in the database past the first idsInMemoryMax ids: read back in its turn.
      if (this.loader && this.tail - this.head >= this.idsInMemoryMax) {
        this.unreadAfter = { ms: this.ms[last], seq: this.seq[last] };
        return;
      }
      this.append(ms, seq, task);
    } else heapPush(this.returned, { ms, seq }, idBefore);
  }

  private append(ms: number, seq: number, task: CachedTask | undefined): void {
    if (this.tail === this.ms.length) this.makeRoom();
    this.ms[this.tail] = ms;
    this.seq[this.tail] = seq;
    if (task && this.budget.used + task.bytes <= this.budget.max) {
      this.cached[this.tail] = task;
      this.budget.used += task.bytes;
    }
    this.tail++;
  }

  /**
   * Forgets every cached payload of this key: after XCLAIM FORCE took a waiting task, a stale
   * entry could meet that task waiting again with attempts counted, which its cache would miss.
   */
  dropCache(): void {
    for (let i = this.head; i < this.tail; i++) {
      const task = this.cached[i];
      if (task) this.budget.used -= task.bytes;
    }
    this.cached = [];
  }

  private makeRoom(): void {
    const live = this.tail - this.head;
    // Reuse the consumed front when it is at least half the array; otherwise grow.
    const size = live * 2 <= this.ms.length ? this.ms.length : this.ms.length * 2;
    const ms = new Float64Array(size);
    const seq = new Float64Array(size);
    ms.set(this.ms.subarray(this.head, this.tail));
    seq.set(this.seq.subarray(this.head, this.tail));
    this.cached = this.cached.slice(this.head, this.tail);
    this.ms = ms;
    this.seq = seq;
    this.head = 0;
    this.tail = live;
  }

  /** Removes and returns the smallest id (with its cached payload, if any), or null when none is left. */
  shift(): WaitingId | null {
    // Unread rows all come after the ring's ids, and may come before a returned one.
    while (this.head === this.tail && this.loadMore());
    const top = this.returned[0];
    if (this.head < this.tail) {
      const ms = this.ms[this.head];
      const seq = this.seq[this.head];
      if (!top || ms < top.ms || (ms === top.ms && seq < top.seq)) {
        const cached = this.cached[this.head];
        if (cached) {
          this.cached[this.head] = undefined;
          this.budget.used -= cached.bytes;
        }
        this.head++;
        if (this.head === this.tail) {
          this.head = this.tail = 0;
          this.cached = [];
          // Nothing left in memory, so nothing stale (the heap is checked below).
          if (this.returned.length === 0) this.maybeStale = false;
        }
        return cached ? { ms, seq, cached } : { ms, seq };
      }
    }
    return top ? heapPop(this.returned, idBefore) : null;
  }

  /** The next `n` ids in order, without taking them. */
  peek(n: number): { ms: number; seq: number }[] {
    while (this.tail - this.head < n && this.loadMore());
    const fromHeap = [...this.returned].sort(compare).slice(0, n);
    const out: { ms: number; seq: number }[] = [];
    let h = 0;
    for (let i = this.head; out.length < n && (i < this.tail || h < fromHeap.length); ) {
      const ring = i < this.tail ? { ms: this.ms[i], seq: this.seq[i] } : null;
      if (ring && (h >= fromHeap.length || compare(ring, fromHeap[h]) < 0)) {
        out.push(ring);
        i++;
      } else out.push(fromHeap[h++]);
    }
    return out;
  }
}

const compare = (a: { ms: number; seq: number }, b: { ms: number; seq: number }) => a.ms - b.ms || a.seq - b.seq;
const idBefore = (a: { ms: number; seq: number }, b: { ms: number; seq: number }) => compare(a, b) < 0;

/** Every key's waiting order, with the payload budget they share. */
export class WaitingOrders {
  private orders = new Map<number, WaitingOrder>();
  private budget: CacheBudget;

  constructor(
    private readonly cacheBytesMax: number,
    private readonly loader: WaitingLoader,
  ) {
    this.budget = new CacheBudget(cacheBytesMax);
  }

  /** Starts over from each key's count of waiting rows (start-up, or after a rollback); ids are read as claims need them. */
  load(counts: Iterable<{ key: number; n: number }>): void {
    this.orders = new Map();
    this.budget = new CacheBudget(this.cacheBytesMax);
    for (const { key, n } of counts) {
      const order = this.of(key);
      order.count = n;
      order.unload();
    }
  }

  get(key: number): WaitingOrder | undefined {
    return this.orders.get(key);
  }

  /** The key's order, created empty when it has none. */
  of(key: number): WaitingOrder {
    let order = this.orders.get(key);
    if (!order) {
      order = new WaitingOrder(this.budget, key, this.loader);
      this.orders.set(key, order);
    }
    return order;
  }

  /** A task of `key` is waiting now: pushed (with its payload to cache), come back, or died into a dead view. */
  add(key: number, ms: number, seq: number, pushed?: CachedTask): void {
    const order = this.of(key);
    order.add(ms, seq, pushed);
    order.count++;
  }

  /**
   * `n` waiting tasks of `key` are gone (deleted or taken); their entries go stale and claims skip
   * them. True when stale entries outnumber live ones (plus STALE_ENTRIES_MIN): the caller should
   * reload the key, or a capped stream nobody reads (XADD MAXLEN) would grow its ring forever.
   */
  removed(key: number, n: number): boolean {
    const order = this.orders.get(key);
    if (!order || n <= 0) return false;
    order.count = Math.max(0, order.count - n);
    order.maybeStale = true;
    return order.entries - order.count > order.count + STALE_ENTRIES_MIN;
  }

  /** Drops one key's ids from memory (stale entries with them); they are read again as claims need them. */
  reload(key: number): void {
    this.orders.get(key)?.unload();
  }

  /** The key's tasks are all gone (DEL). */
  forget(key: number): void {
    this.orders.get(key)?.dropCache();
    this.orders.delete(key);
  }
}
