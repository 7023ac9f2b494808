// The SQLite driver's in-memory waiting order (src/store/sqlite/waiting.ts) hands out ids in id
// order whatever order they came back in, across ring growth and reuse, and peeks the same ids
// it would shift.
import { expect, test } from "bun:test";
import { WaitingOrder } from "../../src/store/sqlite/waiting.ts";

type Id = { ms: number; seq: number };
const byId = (a: Id, b: Id) => a.ms - b.ms || a.seq - b.seq;

test("random pushes, returns and shifts come out in id order, as a sorted list would give them", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const order = new WaitingOrder();
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
      expect(got).toEqual(want);
      if (got) taken.push(got);
    }
    expect(order.entries).toBe(reference.length);
  }
  reference.sort(byId);
  const rest: Id[] = [];
  for (let id = order.shift(); id; id = order.shift()) rest.push(id);
  expect(rest).toEqual(reference);
});
