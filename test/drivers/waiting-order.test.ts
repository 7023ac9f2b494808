// The SQLite driver's in-memory waiting order (src/store/sqlite/waiting.ts) hands out ids in id
// order whatever order they came back in, across ring growth and reuse, and peeks the same ids
// it would shift.
import { expect, test } from "bun:test";
import { CacheBudget, WaitingOrder } from "../../src/store/sqlite/waiting.ts";

type Id = { ms: number; seq: number };
const byId = (a: Id, b: Id) => a.ms - b.ms || a.seq - b.seq;

test("random pushes, returns and shifts come out in id order, as a sorted list would give them", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const order = new WaitingOrder(new CacheBudget(0));
  let reference: Id[] = [];
  let next = 1;
  const taken: Id[] = [];
  for (let step = 0; step < 20_000; step++) {
    const r = random();
    if (r < 0.45) {
      const id = { ms: next, seq: Math.floor(random() * 3) };
      next++;
      order.add(id.ms, id.seq);
      reference.push(id);
    } else if (r < 0.6 && taken.length > 0) {
      // A task comes back (nack, lease expiry): older than the newest pushes.
      const id = taken.splice(Math.floor(random() * taken.length), 1)[0];
      order.add(id.ms, id.seq);
      reference.push(id);
    } else {
      reference.sort(byId);
      if (r < 0.62) expect(order.peek(5)).toEqual(reference.slice(0, 5));
      const got = order.shift();
      const want = reference.shift() ?? null;
      expect(got && { ms: got.ms, seq: got.seq }).toEqual(want);
      if (got) taken.push(got);
    }
    expect(order.entries).toBe(reference.length);
  }
  reference.sort(byId);
  const rest: Id[] = [];
  for (let id = order.shift(); id; id = order.shift()) rest.push({ ms: id.ms, seq: id.seq });
  expect(rest).toEqual(reference);
});

test("pushed payloads ride along until claimed, within the shared byte budget, and a dropped cache refunds it", () => {
  const budget = new CacheBudget(250);
  const a = new WaitingOrder(budget);
  const b = new WaitingOrder(budget);
  const task = (n: number) => ({ fields: `["n","${n}"]`, maxAttempts: null, bytes: 100 });
  a.add(1, 0, task(1));
  b.add(1, 0, task(2));
  a.add(2, 0, task(3)); // over the budget: kept as an id only
  expect(budget.used).toBe(200);
  expect(a.shift()).toEqual({ ms: 1, seq: 0, cached: task(1) });
  expect(budget.used).toBe(100);
  expect(a.shift()).toEqual({ ms: 2, seq: 0 });
  // A task that comes back older than the newest one goes to the heap, uncached even if offered.
  a.add(5, 0, task(5));
  a.add(0, 5, task(9));
  expect(budget.used).toBe(200);
  expect(a.shift()).toEqual({ ms: 0, seq: 5 });
  b.dropCache();
  expect(budget.used).toBe(100);
  expect(b.shift()).toEqual({ ms: 1, seq: 0 });
  expect(a.shift()).toEqual({ ms: 5, seq: 0, cached: task(5) });
  expect(budget.used).toBe(0);
  // Growing the ring keeps each payload with its id.
  const big = new WaitingOrder(new CacheBudget(1e9));
  for (let i = 1; i <= 1000; i++) big.add(i, 0, task(i));
  for (let i = 1; i <= 1000; i++) expect(big.shift()!.cached!.fields).toBe(`["n","${i}"]`);
});

test("a key read lazily from the database hands out the same order: unread rows, pushes past them, returns", () => {
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  // The "database": every waiting id of the key, as task_state would hold them.
  const rows: Id[] = [];
  for (let ms = 1; ms <= 3000; ms++) rows.push({ ms, seq: 0 });
  const db = new Set(rows.map((r) => r.ms));
  let reads = 0;
  const loader = (_key: number, after: Id, limit: number) => {
    reads++;
    const ids = [...db].filter((ms) => ms > after.ms || (ms === after.ms && 0 > after.seq)).sort((a, b) => a - b).slice(0, limit);
    return { ids: ids.map((ms) => ({ ms, seq: 0 })), last: ids.length < limit ? null : { ms: ids[ids.length - 1], seq: 0 } };
  };
  const order = new WaitingOrder(new CacheBudget(1 << 20), 2, loader);
  order.unload();
  expect(order.entries).toBe(0);
  let next = 3001;
  const reference = [...db];
  const taken: number[] = [];
  for (let step = 0; step < 12_000; step++) {
    const r = random();
    if (r < 0.3) {
      // A push: written to the database first, as the driver does.
      db.add(next);
      order.add(next, 0, { fields: "[]", maxAttempts: null, bytes: 10 });
      reference.push(next++);
    } else if (r < 0.4 && taken.length > 0) {
      const ms = taken.splice(Math.floor(random() * taken.length), 1)[0];
      db.add(ms);
      order.add(ms, 0);
      reference.push(ms);
    } else {
      reference.sort((a, b) => a - b);
      const got = order.shift();
      expect(got?.ms ?? null).toBe(reference.shift() ?? null);
      if (got) {
        db.delete(got.ms);
        taken.push(got.ms);
      }
    }
  }
  // Reads came a chunk at a time, not once per id.
  expect(reads).toBeLessThan(60);
});

test("past its in-memory cap a key leaves new pushes in the database and reads them back in order", () => {
  const db: number[] = [];
  const loader = (_key: number, after: Id, limit: number) => {
    const ids = db.filter((ms) => ms > after.ms).slice(0, limit);
    return { ids: ids.map((ms) => ({ ms, seq: 0 })), last: ids.length < limit ? null : { ms: ids[ids.length - 1], seq: 0 } };
  };
  const order = new WaitingOrder(new CacheBudget(1 << 20), 2, loader, 100);
  for (let ms = 1; ms <= 5000; ms++) {
    db.push(ms);
    order.add(ms, 0, { fields: "[]", maxAttempts: null, bytes: 10 });
  }
  expect(order.entries).toBe(100);
  const got: number[] = [];
  for (let id = order.shift(); id; id = order.shift()) {
    got.push(id.ms);
    db.splice(db.indexOf(id.ms), 1);
    expect(order.entries).toBeLessThanOrEqual(1024);
  }
  expect(got).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
});
