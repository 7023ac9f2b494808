// Engine tests on a fresh store per test: the lifecycle of DESIGN.md without sockets, once per
// storage driver (test/helpers/drivers.ts). Each test runs its operations inside explicit turns,
// as the server does.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { Engine, type EngineOptions } from "../src/queue/engine.ts";
import { parseAddId } from "../src/queue/ids.ts";
import { DRIVERS, type DriverUnderTest } from "./helpers/drivers.ts";
import { removeDir, tempDir } from "./helpers/servers.ts";

const engines: Engine[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const e of engines.splice(0)) {
    try {
      e.close();
    } catch {}
  }
  for (const d of dirs.splice(0)) removeDir(d);
});

type SetupOptions = Partial<Omit<EngineOptions, "driver">> & { dataDir?: string; claimWriteDelayMs?: number };

function setup(options: SetupOptions = {}): ReturnType<typeof setupOn> {
  return setupOn(current, options);
}

let current: DriverUnderTest = DRIVERS[0];

function setupOn(store: DriverUnderTest, options: SetupOptions = {}) {
  const dataDir = options.dataDir ?? tempDir();
  if (!options.dataDir) dirs.push(dataDir);
  const { claimWriteDelayMs, ...engineOptions } = options;
  const engine = new Engine({
    driver: store.open(dataDir, claimWriteDelayMs),
    visibilityTimeoutMs: 30_000,
    maxAttempts: 3,
    retentionMs: 3_600_000,
    blockedClientsMax: 100,
    ...engineOptions,
  });
  engines.push(engine);
  /** Runs fn in one turn and commits it, like one event-loop turn of the server. */
  const turn = <T>(fn: () => T): T => {
    engine.turn.enter();
    const result = fn();
    engine.turn.finish();
    return result;
  };
  const push = (queue: string, ...fields: string[]) =>
    turn(() => engine.push(queue, parseAddId("*")!, fields.map((f) => new TextEncoder().encode(f))))!;
  const pop = (queue: string, count = 1, consumer = "c") => turn(() => engine.deliver(queue, "g", consumer, count, false));
  const reopen = () => {
    const i = engines.indexOf(engine);
    if (i >= 0) engines.splice(i, 1);
    engine.close();
    return setupOn(store, { ...options, dataDir });
  };
  return { engine, dataDir, turn, push, pop, reopen };
}

for (const driver of DRIVERS) {
  describe(`engine on ${driver.name}`, () => {
    // setup() opens stores of the driver whose tests are running.
    beforeEach(() => {
      current = driver;
    });
    test("push then pop returns fields in order with attempts, oldest first", () => {
      const { push, pop } = setup();
      const a = push("q", "body", "a", "x", "1");
      push("q", "body", "b");
      const [first, second] = pop("q", 5);
      expect(first.id).toEqual(a);
      expect(first.fields).toEqual(["body", "a", "x", "1"]);
      expect(first.attempts).toBe(1);
      expect(first.maxAttempts).toBe(3);
      expect(second.fields).toEqual(["body", "b"]);
      expect(pop("q")).toEqual([]);
    });

    test("ids strictly increase even if the clock steps back", () => {
      let now = 1_000_000;
      const { push } = setup({ now: () => now });
      const a = push("q", "f", "1");
      now -= 500;
      const b = push("q", "f", "2");
      expect(b.ms > a.ms || (b.ms === a.ms && b.seq > a.seq)).toBe(true);
    });

    test("ack counts only in-flight tasks and a done task is not delivered again", () => {
      const { engine, push, pop, turn } = setup();
      const id = push("q", "f", "v");
      expect(turn(() => engine.ack("q", [id]))).toBe(0);
      pop("q");
      expect(turn(() => engine.ack("q", [id, id]))).toBe(1);
      expect(engine.counts("q")).toMatchObject({ available: 0, in_flight: 0, done: 1 });
      expect(pop("q")).toEqual([]);
    });

    test("nack retries until max attempts, then the task is dead and claimable on q::dead", () => {
      const { engine, push, pop, turn } = setup({ maxAttempts: 2 });
      const id = push("q", "f", "v");
      pop("q");
      expect(turn(() => engine.nack("q", id, "boom"))).toBe(true);
      expect(pop("q")[0].attempts).toBe(2);
      expect(turn(() => engine.nack("q", id, "boom again"))).toBe(true);
      expect(engine.length("q")).toBe(0);
      expect(engine.length("q::dead")).toBe(1);
      const dead = turn(() => engine.deliver("q::dead", "g", "ops", 10, false));
      expect(dead.map((e) => e.id)).toEqual([id]);
      // nack on the dead view returns it to dead; ack removes it for good.
      expect(turn(() => engine.nack("q::dead", id, null))).toBe(true);
      expect(engine.length("q::dead")).toBe(1);
      turn(() => engine.deliver("q::dead", "g", "ops", 10, false));
      expect(turn(() => engine.ack("q::dead", [id]))).toBe(1);
      expect(engine.length("q::dead")).toBe(0);
      expect(engine.counts("q")).toEqual({ available: 0, in_flight: 0, done: 0, dead: 0 });
    });

    test("nack of a task that is not in flight is refused", () => {
      const { engine, push, turn } = setup();
      const id = push("q", "f", "v");
      expect(turn(() => engine.nack("q", id, null))).toBe(false);
    });

    test("a per-task max_attempts overrides the queue's", () => {
      const { engine, pop, turn } = setup({ maxAttempts: 5 });
      const id = turn(() => engine.push("q", parseAddId("*")!, [new TextEncoder().encode("f")], { maxAttempts: 1 }))!;
      expect(pop("q")[0].maxAttempts).toBe(1);
      turn(() => engine.nack("q", id, null));
      expect(engine.length("q::dead")).toBe(1);
    });

    test("an expired lease puts the task back, via the maintenance timer", async () => {
      const { engine, push, pop } = setup({ visibilityTimeoutMs: 50 });
      push("q", "f", "v");
      expect(pop("q")).toHaveLength(1);
      const deadline = Date.now() + 5000;
      while (engine.length("q") === 0 && Date.now() < deadline) await Bun.sleep(10);
      const again = pop("q");
      expect(again).toHaveLength(1);
      expect(again[0].attempts).toBe(2);
    });

    test("restart recovery returns in-flight tasks to available, or dead when out of attempts", async () => {
      // Claims written in their turn: a crash then forgets no attempt.
      const first = setup({ maxAttempts: 2, claimWriteDelayMs: 0 });
      first.push("q", "f", "1");
      first.push("q", "f", "2");
      first.pop("q");
      const id2 = first.pop("q")[0].id;
      first.turn(() => first.engine.nack("q", id2, null));
      first.pop("q"); // task 2, second attempt: in flight at the crash, out of attempts
      const { engine } = first.reopen();
      // Nothing in flight after a restart; both count as waiting until released.
      expect(engine.counts("q").in_flight).toBe(0);
      expect(engine.length("q")).toBe(2);
      // The release runs on the timer right after the start (or when a claim reads the task).
      const deadline = Date.now() + 5000;
      while (engine.length("q::dead") === 0 && Date.now() < deadline) await Bun.sleep(10);
      expect(engine.length("q")).toBe(1);
      expect(engine.length("q::dead")).toBe(1);
      expect(engine.counts("q").in_flight).toBe(0);
    });

    test("a claim lives in memory until its ack or the delay: a crash before then forgets that delivery's attempt", async () => {
      const first = setup({ claimWriteDelayMs: 150 });
      first.push("q", "n", "1");
      first.push("q", "n", "2");
      const popped = first.pop("q", 2);
      expect(popped.map((t) => t.attempts)).toEqual([1, 1]);
      const rows = () => {
        const db = new Database(join(first.dataDir, "ezra.db"), { readonly: true });
        const out = db.query("SELECT status, attempts, worker FROM tasks ORDER BY ms, seq").all();
        db.close();
        return out;
      };
      // Not written yet: the file still shows both waiting, never delivered.
      expect(rows()).toEqual([
        { status: "available", attempts: 0, worker: null },
        { status: "available", attempts: 0, worker: null },
      ]);
      expect(first.engine.counts("q")).toEqual({ available: 0, in_flight: 2, done: 0, dead: 0 });
      // The ack writes the whole claim with it.
      first.turn(() => first.engine.ack("q", [popped[0].id]));
      expect(rows()[0]).toEqual({ status: "done", attempts: 1, worker: "c" });
      // The timer writes the other one once it is older than the delay.
      const deadline = Date.now() + 5000;
      while ((rows()[1] as { status: string }).status !== "in_flight" && Date.now() < deadline) await Bun.sleep(20);
      expect(rows()[1]).toEqual({ status: "in_flight", attempts: 1, worker: "c" });
    });

    test("a waiting task deleted while its entry is still in memory is never delivered", () => {
      const { engine, push, pop, turn } = setup();
      push("q", "n", "1");
      const second = push("q", "n", "2");
      turn(() => engine.delete("q", [second]));
      expect(pop("q", 5).map((t) => t.fields[1])).toEqual(["1"]);
      expect(engine.length("q")).toBe(0);
    });

    test("after a restart a claim reads tasks left in flight in id order, releasing each", () => {
      const first = setup({ maxAttempts: 2 });
      for (let i = 1; i <= 5; i++) first.push("q", "n", String(i));
      first.pop("q", 3); // 1-3 in flight at the crash (their claims held in memory only)
      const { engine, pop } = first.reopen();
      // Claimed before the timer ran: the claim itself releases what it reads.
      const got = pop("q", 10).map((t) => t.fields[1]);
      expect(got).toEqual(["1", "2", "3", "4", "5"]);
      expect(engine.counts("q").in_flight).toBe(5);
      expect(engine.length("q")).toBe(0);
    });

    test("retention purges done tasks; ttl removes a task whatever its state", async () => {
      const { engine, push, pop, turn } = setup({ retentionMs: 30 });
      const id = push("q", "f", "v");
      pop("q");
      turn(() => engine.ack("q", [id]));
      turn(() => engine.push("q", parseAddId("*")!, [new TextEncoder().encode("f")], { ttlSeconds: 1 }));
      pop("q"); // in flight: ttl still removes it
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const c = engine.counts("q");
        if (c.done === 0 && c.in_flight === 0) break;
        await Bun.sleep(20);
      }
      expect(engine.counts("q")).toEqual({ available: 0, in_flight: 0, done: 0, dead: 0 });
    });

    test("blocked readers are served oldest first, once per task, before the commit", () => {
      const { engine, turn, push } = setup();
      const served: string[] = [];
      const block = (name: string) =>
        turn(() =>
          engine.waitForDelivery(
            { keys: ["q"], group: "g", consumer: name, count: 1, noack: false },
            0,
            (result) => served.push(`${name}:${result[0][1].length}`),
            () => served.push(`${name}:timeout`),
          ),
        );
      block("w1");
      block("w2");
      block("w3");
      push("q", "f", "1");
      push("q", "f", "2");
      expect(served).toEqual(["w1:1", "w2:1"]);
      expect(engine.blockedCount).toBe(1);
      engine.drainWaiters();
      expect(served).toEqual(["w1:1", "w2:1", "w3:timeout"]);
    });

    test("a failed turn rolls back everything in it", () => {
      const { engine, push } = setup();
      push("q", "f", "kept");
      engine.turn.enter();
      engine.push("q", parseAddId("*")!, [new TextEncoder().encode("lost")]);
      engine.turn.failure = new Error("simulated commit failure");
      let seen: Error | null = null;
      engine.turn.onFinish((f) => {
        seen = f;
      });
      engine.turn.finish();
      expect(seen).not.toBeNull();
      expect(engine.length("q")).toBe(1);
    });

    test.skipIf(!driver.sqliteFile)("a delivery's active-time waits in memory for the next turn that writes", () => {
      const { engine, dataDir, push, pop } = setup();
      push("q", "n", "1");
      pop("q", 1, "w1");
      const activeAt = () => {
        const db = new Database(join(dataDir, "ezra.db"), { readonly: true });
        const row = db.query("SELECT active_at FROM consumers WHERE name = 'w1'").get() as { active_at: number | null };
        db.close();
        return row.active_at;
      };
      // Created by its first delivery (a write); a later delivery moves the time in memory only.
      const first = activeAt();
      expect(first).not.toBeNull();
      push("q", "n", "2");
      const later = Date.now() + 5;
      while (Date.now() < later);
      pop("q", 1, "w1");
      expect(activeAt()).toBe(first);
      push("q", "n", "3");
      expect(activeAt()!).toBeGreaterThan(first!);
    });

    test("a rollback puts deliveries back as they were before the turn", () => {
      const { engine, push, pop } = setup();
      for (let i = 1; i <= 4; i++) push("q", "n", String(i));
      const [first, second] = pop("q", 2); // held in memory only (not written yet)
      engine.turn.enter();
      expect(engine.ack("q", [first.id])).toBe(1);
      expect(engine.nack("q", second.id, "boom")).toBe(true);
      expect(engine.deliver("q", "g", "c2", 1, false).length).toBe(1);
      engine.turn.failure = new Error("simulated commit failure");
      engine.turn.finish();
      // The ack, the nack and the new delivery are undone: 1 and 2 held, 3 and 4 waiting.
      expect(engine.counts("q")).toEqual({ available: 2, in_flight: 2, done: 0, dead: 0 });
      expect(engine.length("q")).toBe(2);
      expect(pop("q", 5).map((t) => t.fields[1])).toEqual(["3", "4"]);
      const turnAck = () => {
        engine.turn.enter();
        const n = engine.ack("q", [first.id, second.id]);
        engine.turn.finish();
        return n;
      };
      expect(turnAck()).toBe(2);
    });

    test.skipIf(!driver.sqliteFile)("the database is readable: tasks table with queue, status text and JSON fields", () => {
      const { engine, dataDir, push, pop } = setup({ claimWriteDelayMs: 0 });
      push("emails", "to", "a@example.com");
      pop("emails");
      engine.turn.finish();
      const db = new Database(join(dataDir, "ezra.db"), { readonly: true });
      const row = db.query("SELECT queue, status, fields, attempts, worker FROM tasks").get() as Record<string, unknown>;
      db.close();
      expect(row).toEqual({ queue: "emails", status: "in_flight", fields: '["to","a@example.com"]', attempts: 1, worker: "c" });
    });

    test("binary fields round-trip exactly", () => {
      const { engine, turn, pop } = setup();
      const bytes = new Uint8Array([0, 255, 13, 10, 128, 1]);
      turn(() => engine.push("bin", parseAddId("*")!, [new TextEncoder().encode("blob"), bytes]));
      const [entry] = pop("bin");
      expect(entry.fields[0]).toEqual(new TextEncoder().encode("blob"));
      expect(entry.fields[1]).toEqual(bytes);
    });

    test("a claim of fat tasks is cut to fit the reply byte budget, at least one task", () => {
      const { engine, turn, pop } = setup();
      const fat = new Uint8Array(6 * 1024 * 1024).fill(97); // 6 MiB of 'a'
      for (let i = 0; i < 5; i++) turn(() => engine.push("fat", parseAddId("*")!, [new TextEncoder().encode("blob"), fat]));
      // 16 MiB budget: two 6 MiB tasks fit, the third would pass it.
      expect(pop("fat", 5)).toHaveLength(2);
      expect(engine.counts("fat").available).toBe(3);
      const huge = new Uint8Array(20 * 1024 * 1024).fill(98);
      turn(() => engine.push("huge", parseAddId("*")!, [new TextEncoder().encode("blob"), huge]));
      turn(() => engine.push("huge", parseAddId("*")!, [new TextEncoder().encode("blob"), huge]));
      expect(pop("huge", 10)).toHaveLength(1);
    });
  });
}
