// Clients blocked in a read (XREADGROUP, XREAD, BLPOP), per queue, oldest first. A waiter is in
// the set of every queue it waits on and leaves all of them at once when served, timed out or
// disconnected. The blocked-clients limit and the longest wait are enforced here, for every read.
import { QueueError } from "./errors.ts";

export interface Waiter<T> {
  readonly keys: string[];
  readonly order: number;
  /** Tries to serve the waiter from `queue`; true when it got something and is done. */
  readonly tryServe: (queue: string) => boolean;
  readonly onTimeout: () => void;
  /** Answers a waiter whose key or group went away (XREADGROUP); null: it keeps waiting (XREAD, BLPOP). */
  readonly onGone: ((err: QueueError) => void) | null;
  /** A worker waiting for delivery (XREADGROUP, BLPOP) consumes; a reader waiting for entries (XREAD) only looks. */
  readonly consumes: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  active: boolean;
  payload: T;
}

/** Longest wait a timer can hold (setTimeout's limit, about 24.8 days); longer waits are cut to it. */
export const BLOCK_MS_MAX = 2 ** 31 - 1;

export class Waiters<T> {
  private readonly byQueue = new Map<string, Set<Waiter<T>>>();
  private readonly signalled = new Set<string>();
  private nextOrder = 0;
  count = 0;

  /** `max`: how many may wait at once (--blocked-clients-max); one more is refused with LIMIT. */
  constructor(private readonly max: number) {}

  add(
    keys: string[],
    timeoutMs: number,
    payload: T,
    tryServe: (queue: string) => boolean,
    onTimeout: () => void,
    consumes = true,
    onGone: ((err: QueueError) => void) | null = null,
  ): Waiter<T> {
    if (this.count >= this.max) {
      throw new QueueError("LIMIT", `max number of blocked clients reached (${this.max})`, { flag: "--blocked-clients-max", value: this.max });
    }
    const waiter: Waiter<T> = { keys, order: this.nextOrder++, tryServe, onTimeout, onGone, consumes, timer: null, active: true, payload };
    for (const key of keys) {
      let set = this.byQueue.get(key);
      if (!set) this.byQueue.set(key, (set = new Set()));
      set.add(waiter);
    }
    if (timeoutMs > 0) this.armTimeout(waiter, Date.now() + Math.min(timeoutMs, BLOCK_MS_MAX));
    this.count++;
    return waiter;
  }

  /** A timer that fires a little early (clock rounding) re-arms until the deadline. */
  private armTimeout(waiter: Waiter<T>, deadline: number): void {
    const delay = Math.min(deadline - Date.now(), BLOCK_MS_MAX);
    waiter.timer = setTimeout(() => {
      if (!waiter.active) return;
      if (Date.now() < deadline) return this.armTimeout(waiter, deadline);
      this.remove(waiter);
      waiter.onTimeout();
    }, Math.max(0, delay));
  }

  remove(waiter: Waiter<T>): void {
    if (!waiter.active) return;
    waiter.active = false;
    if (waiter.timer) clearTimeout(waiter.timer);
    for (const key of waiter.keys) {
      const set = this.byQueue.get(key);
      if (!set) continue;
      set.delete(waiter);
      if (set.size === 0) this.byQueue.delete(key);
    }
    this.count--;
  }

  /** Notes that `queue` may have work; waiters are served once, before the turn commits. */
  signal(queue: string): void {
    if (this.byQueue.has(queue)) this.signalled.add(queue);
  }

  /** Serves signalled queues, oldest waiter first, until a queue runs dry or has no waiters. */
  serveSignalled(): void {
    for (const queue of this.signalled) {
      this.signalled.delete(queue);
      const set = this.byQueue.get(queue);
      if (!set) continue;
      // Once one consumer finds the queue dry, later consumers would too; watching readers
      // (XREAD) see entries whatever their state, so each of them is still tried.
      let dry = false;
      for (const waiter of set) {
        if (dry && waiter.consumes) continue;
        if (waiter.tryServe(queue)) this.remove(waiter);
        else if (waiter.consumes) dry = true;
      }
    }
  }

  clearSignals(): void {
    this.signalled.clear();
  }

  /**
   * Answers with `err` the waiters on `keys` that wait for something that went away (those with
   * an onGone) and that `matches` picks; the others keep waiting.
   */
  endGone(keys: string[], err: QueueError, matches: (payload: T) => boolean): void {
    for (const key of keys) {
      for (const waiter of [...(this.byQueue.get(key) ?? [])]) {
        if (!waiter.onGone || !matches(waiter.payload)) continue;
        this.remove(waiter);
        waiter.onGone(err);
      }
    }
  }

  /** Shutdown: removes every waiter, oldest first, answering each as its timeout would. */
  drain(): T[] {
    const all = this.all();
    for (const w of all) {
      this.remove(w);
      w.onTimeout();
    }
    return all.map((w) => w.payload);
  }

  private all(): Waiter<T>[] {
    const seen = new Set<Waiter<T>>();
    for (const set of this.byQueue.values()) for (const w of set) seen.add(w);
    return [...seen].sort((a, b) => a.order - b.order);
  }
}
