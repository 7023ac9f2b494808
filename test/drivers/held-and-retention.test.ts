// The SQLite driver's in-memory state beside the waiting order: the held set (held.ts) answers
// XPENDING and lease expiry without an index, and retention's buckets (retention.ts) find due
// done tasks without one. Unit checks of both, then the driver against its own rows.
import { expect, test } from "bun:test";
import { HeldTasks } from "../../src/store/sqlite/held.ts";
import { RetentionBuckets } from "../../src/store/sqlite/retention.ts";

const task = (ms: number, seq: number, over: Partial<{ group: string; worker: string; leaseUntil: number | null }> = {}) => ({
  ms,
  seq,
  group: over.group ?? "g",
  worker: over.worker ?? "w",
  deliveredAt: 0,
  attempts: 1,
  leaseUntil: over.leaseUntil === undefined ? 1000 + ms : over.leaseUntil,
  written: true,
});

test("held tasks: per group in id order whatever the order of claims, counted exactly", () => {
  const held = new HeldTasks();
  for (const ms of [5, 1, 9, 3, 7]) held.hold(10, task(ms, 0));
  held.hold(10, task(2, 0, { group: "other" }));
  const ids = (group: string) => [...(held.group(10, group)?.from({ ms: 0, seq: 0 }) ?? [])].map((t) => t.ms);
  expect(ids("g")).toEqual([1, 3, 5, 7, 9]);
  expect(held.count(10)).toBe(6);
  expect(held.drop(10, 3, 0)).toBe(true);
  expect(held.drop(10, 3, 0)).toBe(false);
  expect(ids("g")).toEqual([1, 5, 7, 9]);
  expect([...held.group(10, "g")!.from({ ms: 6, seq: 0 })].map((t) => t.ms)).toEqual([7, 9]);
  // A takeover through another group moves the task there.
  held.hold(10, task(5, 0, { group: "other", worker: "x" }));
  expect(ids("g")).toEqual([1, 7, 9]);
  expect(ids("other")).toEqual([2, 5]);
  expect(held.newest(10)).toEqual({ ms: 9, seq: 0 });
  expect(held.size).toBe(5);
  held.forget(10);
  expect(held.size).toBe(0);
  expect(held.group(10, "g")).toBeUndefined();
});

test("held tasks: ids past 2^41 ms or with large sequences are told apart", () => {
  const held = new HeldTasks();
  held.hold(2, task(2 ** 45, 1));
  held.hold(2, task(2 ** 45, 2));
  held.hold(2, task(1, 5000));
  held.hold(2, task(2, 904)); // 1 * 4096 + 5000 would collide with 2 * 4096 + 904 if packed
  expect(held.count(2)).toBe(4);
  expect(held.get(2, 1, 5000)?.seq).toBe(5000);
  expect(held.get(2, 2, 904)?.seq).toBe(904);
});

test("held tasks: leases come out earliest first, acked ones never, and the heap stays bounded", () => {
  const held = new HeldTasks();
  for (let i = 0; i < 5000; i++) {
    held.hold(2, task(i, 0, { leaseUntil: 100_000 + i }));
    if (i % 10 !== 0) held.drop(2, i, 0);
  }
  expect(held.size).toBe(500);
  expect(held.nextLease()).toBe(100_000);
  const expired = held.expired(100_050, 100).map((e) => e.task.ms);
  expect(expired).toEqual([0, 10, 20, 30, 40, 50]);
  // Still held until dropped by the caller.
  expect(held.nextLease()).toBe(100_000);
  expect((held as unknown as { leases: unknown[] }).leases.length).toBeLessThanOrEqual(2 * 500 + 1024 + 1);
  held.hold(2, task(7, 0, { leaseUntil: null }));
  expect(held.expired(Infinity, 10_000).length).toBe(500);
});

test("retention buckets: one range per key and purge second; due ones come out earliest first", () => {
  const buckets = new RetentionBuckets();
  buckets.reset([]);
  buckets.add(4, 100, 5_000);
  buckets.add(4, 120, 4_100); // the same second, rounded up: widens the range
  buckets.add(4, 90, 5_400);
  buckets.add(6, 7, 9_000);
  expect(buckets.next(0)).toBe(5_000);
  const due = (now: number) => [...buckets.due(now)].map((d) => ({ second: d.second, key: d.key, ...d.range }));
  expect(due(5_999)).toEqual([{ second: 5, key: 4, loMs: 100, hiMs: 120 }]);
  expect(due(6_000)).toEqual([
    { second: 5, key: 4, loMs: 100, hiMs: 120 },
    { second: 6, key: 4, loMs: 90, hiMs: 90 },
  ]);
  buckets.done(5, 4);
  expect(buckets.next(0)).toBe(6_000);
  buckets.done(6, 4);
  expect(buckets.next(0)).toBe(9_000);
  // After a start every key is walked first: due at once.
  buckets.reset([4, 6]);
  expect(buckets.next(123)).toBe(123);
  expect([...buckets.due(10_000)]).toEqual([]);
});

test("retention buckets stay few for a long retention: one per second within the hour, per minute within the day, per hour beyond", () => {
  const buckets = new RetentionBuckets();
  buckets.reset([]);
  const now = Date.now();
  // An ack every 2 s over a week of purge times: 302,400 acks.
  for (let t = 0; t < 7 * 86_400_000; t += 2000) buckets.add(4, t, now + t);
  const count = (buckets as unknown as { seconds: number[] }).seconds.length;
  expect(count).toBeLessThan(1800 + 1440 + 168 + 3);
  // A purge is never early: each bucket ends at or after every purge time in it.
  expect(buckets.next(0)! >= now).toBe(true);
  const firstDue = [...buckets.due(now + 30 * 86_400_000)];
  expect(firstDue.length).toBe(count);
});
