#!/usr/bin/env bun
// Experiment 5: EXPLAIN QUERY PLAN of the hot statements of layouts b and c, and two timings that
// decide whether the claim needs SQL at all:
//   - "claim the next 16 waiting" in SQL on layout b, with D done or in-flight rows ahead of the
//     first waiting one (they are skipped one by one: the primary key has no status in it);
//   - whole lifecycles on layout c: claims by key from memory (no index), against claims that
//     first SELECT the next 16 through a partial index on the waiting rows (priority, then id),
//     then update those keys (the index is what a claim served by SQL needs).
//
// usage: bun scripts/storage-lab/plans.ts [--tasks 100000] [--repeat 3] [--dir DIR]
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { labDir, machineLine, markdown, numberFlag, payloadOf, processCpuMs, removeDir, spread } from "./lab.ts";
import { DDL, makeOps, msOf, openDb, seqOf } from "./layouts.ts";

const values = (n: number) => Array.from({ length: n }, () => "(?, ?, ?)").join(", ");
const key = "queue_id = ?1 AND ms = ?2 AND seq = ?3";

/** [layout, what it does, SQL] for every hot statement. */
const STATEMENTS: [string, string, string][] = [
  ["b", "claim one task by key (id from the in-memory waiting order)", `UPDATE tasks SET status = 1 WHERE ${key} AND status = 0`],
  ["b", "claim 16 by key, VALUES list", `UPDATE tasks SET status = 1 WHERE (queue_id, ms, seq) IN (VALUES ${values(16)}) AND status = 0`],
  ["b", "claim 16 by key, json_each", "UPDATE tasks SET status = 1 WHERE (queue_id, ms, seq) IN (SELECT 1, value->>0, value->>1 FROM json_each(?1)) AND status = 0"],
  ["b", "read payloads of 16 claimed (when not held in memory)", `SELECT payload FROM tasks WHERE (queue_id, ms, seq) IN (VALUES ${values(16)})`],
  ["b", "claim next 16 in SQL, no in-memory order", "SELECT ms, seq FROM tasks WHERE queue_id = ?1 AND status = 0 ORDER BY ms, seq LIMIT 16"],
  ["b", "ack one by key", `UPDATE tasks SET status = 2 WHERE ${key} AND status = 1`],
  ["b", "ack 16 by key, VALUES list", `UPDATE tasks SET status = 2 WHERE (queue_id, ms, seq) IN (VALUES ${values(16)}) AND status = 1`],
  ["b", "retention sweep: done rows pushed before a cutoff, 1,000 at a time", "DELETE FROM tasks WHERE (queue_id, ms, seq) IN (SELECT queue_id, ms, seq FROM tasks WHERE queue_id = ?1 AND ms < ?2 AND status = 2 LIMIT 1000)"],
  ["b", "start-up scan in key order", "SELECT queue_id, ms, seq, status FROM tasks ORDER BY queue_id, ms, seq"],
  ["b", "XRANGE from an id", "SELECT ms, seq, payload FROM tasks WHERE queue_id = ?1 AND (ms, seq) >= (?2, ?3) ORDER BY ms, seq LIMIT 100"],
  ["c", "claim next 16 by priority then id, no index", "SELECT ms, seq FROM tasks WHERE queue_id = ?1 AND status = 0 ORDER BY priority DESC, ms, seq LIMIT 16"],
  ["c+w", "the same with a partial index on waiting rows", "SELECT ms, seq FROM tasks WHERE queue_id = ?1 AND status = 0 ORDER BY priority DESC, ms, seq LIMIT 16"],
  ["c", "claim one by key, with lease and worker", `UPDATE tasks SET status = 1, attempts = attempts + 1, lease_until = ?4, worker = ?5 WHERE ${key} AND status = 0`],
  ["c", "lease expiry found in SQL", "SELECT queue_id, ms, seq FROM tasks WHERE status = 1 AND lease_until <= ?1"],
  ["c", "lease expiry of keys from the in-memory heap", `UPDATE tasks SET status = 0, lease_until = NULL WHERE (queue_id, ms, seq) IN (VALUES ${values(16)}) AND status = 1 AND lease_until <= ?`],
  ["c", "retention sweep, exact (finished_at >= ms, so the key range bounds it)", "DELETE FROM tasks WHERE (queue_id, ms, seq) IN (SELECT queue_id, ms, seq FROM tasks WHERE queue_id = ?1 AND ms <= ?2 AND status = 2 AND finished_at <= ?2 LIMIT 1000)"],
  ["e", "ack 16 by key in the state table, group 0", `UPDATE state SET status = 2, finished_at = ?49 WHERE (queue_id, ms, seq) IN (VALUES ${values(16)}) AND group_id = 0 AND status = 1`],
  ["c", "due scheduled tasks (status 3), no index", "SELECT queue_id, ms, seq FROM tasks WHERE status = 3 AND run_at <= ?1"],
  ["c", "live unique_key lookup, no index", "SELECT ms, seq FROM tasks WHERE queue_id = ?1 AND unique_key = ?2 AND status < 2"],
];

const removeDb = (path: string) => ["", "-wal", "-shm"].forEach((s) => rmSync(path + s, { force: true }));

const WAITING_INDEX = "CREATE INDEX waiting ON tasks (queue_id, priority DESC, ms, seq) WHERE status = 0";

function plans(): string {
  const dbs: Record<string, Database> = { b: new Database(":memory:"), c: new Database(":memory:"), "c+w": new Database(":memory:"), e: new Database(":memory:") };
  dbs.b.exec(DDL.b);
  dbs.c.exec(DDL.c);
  dbs.e.exec(DDL.e);
  dbs["c+w"].exec(DDL.c);
  dbs["c+w"].exec(WAITING_INDEX);
  const rows = STATEMENTS.map(([layout, what, sql]) => {
    const plan = (dbs[layout].query(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join("; ");
    return [layout, what, `\`${sql.replace(/\(\?, \?, \?\)(, \(\?, \?, \?\))+/, "(?, ?, ?), ...")}\``, plan];
  });
  return markdown(["layout", "statement", "SQL", "EXPLAIN QUERY PLAN"], rows);
}

/** Microseconds per "next 16 waiting" SELECT on layout b with `ahead` non-waiting rows first. */
function claimNextUs(dir: string, ahead: number): number {
  const path = join(dir, `ahead-${ahead}.db`);
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;");
  db.exec(DDL.b);
  const insert = db.query("INSERT INTO tasks VALUES (1, ?, ?, ?, ?)");
  const payload = payloadOf(64);
  db.run("BEGIN");
  for (let i = 0; i < ahead + 10_000; i++) insert.run(msOf(i), seqOf(i), i < ahead ? 2 : 0, payload);
  db.run("COMMIT");
  const next = db.query("SELECT ms, seq FROM tasks WHERE queue_id = 1 AND status = 0 ORDER BY ms, seq LIMIT 16");
  const calls = ahead >= 100_000 ? 50 : 2000;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) if (next.values().length !== 16) throw new Error("claim found fewer rows");
  const us = ((performance.now() - t0) * 1000) / calls;
  db.close();
  removeDb(path);
  return us;
}

/** Lifecycles/s and CPU us per lifecycle of layout c, claims from memory or through the index. */
function lifecycleC(dir: string, withIndex: boolean, tasks: number): [number, number] {
  const path = join(dir, `c-${withIndex}.db`);
  const db = openDb(path, "c", "normal");
  if (withIndex) db.exec(WAITING_INDEX);
  const memoryOps = makeOps(db, "c", "row", payloadOf(64), "none");
  const next = db.query("SELECT ms, seq FROM tasks WHERE queue_id = 1 AND status = 0 ORDER BY priority DESC, ms, seq LIMIT 16");
  // With the index, each COUNT 16 claim finds its keys in SQL, then updates them as from memory.
  const ops = !withIndex ? memoryOps : {
    ...memoryOps,
    claim(from: number, n: number) {
      for (let i = from; i < from + n; i += 16) {
        const rows = next.values() as number[][];
        if (rows.length !== 16 || rows[0][0] !== msOf(i) || rows[0][1] !== seqOf(i)) throw new Error("index claim out of order");
        memoryOps.claim(i, 16);
      }
      return n;
    },
  };
  const batch = 64;
  const batches = tasks / batch;
  const cpu0 = processCpuMs();
  const t0 = performance.now();
  for (let k = 0; k < batches + 2; k++) {
    db.run("BEGIN");
    if (k >= 2) ops.ack((k - 2) * batch, batch);
    if (k >= 1 && k - 1 < batches) ops.claim((k - 1) * batch, batch);
    if (k < batches) ops.insert(k * batch, batch);
    db.run("COMMIT");
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuUs = ((processCpuMs() - cpu0) * 1000) / tasks;
  db.close();
  removeDb(path);
  return [tasks / seconds, cpuUs];
}

function main() {
  const tasks = numberFlag("tasks", 100_000);
  const repeat = numberFlag("repeat", 3);
  console.error(machineLine());
  console.log(plans());
  const dir = labDir("plans");
  try {
    const ahead = [0, 10_000, 100_000];
    const next = new Map<number, number[]>(ahead.map((a) => [a, []]));
    const idx = new Map<boolean, [number, number][]>([[false, []], [true, []]]);
    for (let r = 0; r < repeat; r++) {
      for (const a of ahead) next.get(a)!.push(claimNextUs(dir, a));
      for (const w of [false, true]) idx.get(w)!.push(lifecycleC(dir, w, tasks));
      console.error(`rep ${r + 1} done`);
    }
    console.log(`\n"Next 16 waiting" SELECT on layout b, rows not waiting ahead of the first waiting one; ${repeat} repetitions; median (min-max)`);
    console.log(markdown(["rows ahead (done or in flight)", "us per SELECT"], ahead.map((a) => [a.toLocaleString("en-US"), spread(next.get(a)!, 1)])));
    console.log(`\nLayout c lifecycles (${tasks} tasks, NORMAL, 64 per transaction, row style), with and without the waiting index; ${repeat} repetitions interleaved`);
    console.log(markdown(["layout", "lifecycles/s", "CPU us/lifecycle"], [false, true].map((w) => [w ? `(c) + ${WAITING_INDEX}, claims SELECT next 16 then update by key` : "(c), claims by key from memory",
      spread(idx.get(w)!.map((x) => x[0])), spread(idx.get(w)!.map((x) => x[1]), 1)])));
  } finally {
    removeDir(dir);
  }
}

main();
