#!/usr/bin/env bun
// Experiment 4: start-up rebuild. Builds a database of N tasks in layout b (one table) or d (its
// small state table is what is scanned), 4 queues, 90% waiting, 5% in flight, 5% done, then in a
// fresh child process per run scans it in key order into in-memory structures and reports the
// time and the memory they take. Representations, interleaved across repetitions:
//   objects  - per queue an array of {ms, seq} objects; lease heap of {deadline, q, ms, seq}
//   parallel - per queue a Float64Array of ms and a Uint32Array of seq (12 B a task)
//   packed   - per queue one Float64Array of ms * 4096 + seq (8 B; needs seq < 4096 per ms)
// In-flight rows go into a lease heap (deadline = id time + 30 s) as if leases survived restart.
//
// usage: bun scripts/storage-lab/rebuild.ts [--rows 1000000] [--layout b|d] [--reprs objects,parallel,packed]
//          [--repeat 3] [--db PATH (kept and reused)] [--budget 110] [--dir DIR]
import { Database } from "bun:sqlite";
import { heapStats } from "bun:jsc";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Budget, flag, labDir, listFlag, machineLine, markdown, numberFlag, payloadOf, removeDir, rssBytes, spread } from "./lab.ts";
import { DDL, msOf, seqOf } from "./layouts.ts";

const QUEUES = 4;
const ROWS_PER_INSERT = 500;
const statusOf = (i: number) => (i % 20 === 0 ? 1 : i % 20 === 1 ? 2 : 0); // 5% in flight, 5% done

function build(path: string, layout: "b" | "d", rows: number): number {
  const t0 = performance.now();
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;");
  db.exec(DDL[layout]);
  const payload = payloadOf(64);
  const tables = layout === "b" ? [["tasks", "(?, ?, ?, ?, ?)"]] : [["payloads", "(?, ?, ?, ?)"], ["state", "(?, ?, ?, ?)"]];
  db.run("BEGIN");
  for (const [table, tuple] of tables) {
    const insert = db.query(`INSERT INTO ${table} VALUES ${Array(ROWS_PER_INSERT).fill(tuple).join(", ")}`);
    // Task i of queue q: ids per queue in order, so the primary key is appended to.
    for (let i = 0; i < rows; i += ROWS_PER_INSERT) {
      const a: unknown[] = [];
      for (let j = i; j < i + ROWS_PER_INSERT; j++) {
        const q = 1 + Math.floor((j * QUEUES) / rows);
        if (table === "payloads") a.push(q, msOf(j), seqOf(j), payload);
        else if (table === "state") a.push(q, msOf(j), seqOf(j), statusOf(j));
        else a.push(q, msOf(j), seqOf(j), statusOf(j), payload);
      }
      insert.run(...(a as [any]));
    }
  }
  db.run("COMMIT");
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return (performance.now() - t0) / 1000;
}

/** A growable typed array, trimmed to its length at the end of the load. */
class Grow<T extends Float64Array | Uint32Array> {
  n = 0;
  constructor(public a: T) {}
  push(v: number) {
    if (this.n === this.a.length) {
      const b = new (this.a.constructor as any)(this.a.length * 2) as T;
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  trim(): T {
    return (this.a = this.a.slice(0, this.n) as T);
  }
}

/** Binary min-heap on deadlines; the payload of each entry is an index into parallel arrays. */
function siftUp(keys: { get(i: number): number; swap(i: number, j: number): void }, i: number) {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (keys.get(parent) <= keys.get(i)) break;
    keys.swap(i, parent);
    i = parent;
  }
}

function child(path: string, layout: "b" | "d", repr: string) {
  Bun.gc(true);
  const rss0 = rssBytes();
  const heap0 = heapStats().heapSize;
  const t0 = performance.now();
  const db = new Database(path, { readonly: true });
  db.exec("PRAGMA cache_size = -2000"); // a sequential scan needs no cache; keep it out of the RSS
  const sql = `SELECT queue_id, ms, seq, status FROM ${layout === "b" ? "tasks" : "state"} ORDER BY queue_id, ms, seq`;
  const waitingObjects = new Map<number, { ms: number; seq: number }[]>();
  const waitingTyped = new Map<number, [Grow<Float64Array>, Grow<Uint32Array>]>();
  const heapObjects: { deadline: number; q: number; ms: number; seq: number }[] = [];
  const heapTyped = [new Grow(new Float64Array(1024)), new Grow(new Float64Array(1024)), new Grow(new Uint32Array(1024))];
  let held = 0;
  for (const r of db.query(sql).iterate() as IterableIterator<{ queue_id: number; ms: number; seq: number; status: number }>) {
    if (r.status === 2) continue; // done: retention is swept by key range in SQL, not held here
    held++;
    if (r.status === 1) {
      const deadline = r.ms + 30_000;
      if (repr === "objects") {
        heapObjects.push({ deadline, q: r.queue_id, ms: r.ms, seq: r.seq });
        siftUp({ get: (i) => heapObjects[i].deadline, swap: (i, j) => ([heapObjects[i], heapObjects[j]] = [heapObjects[j], heapObjects[i]]) }, heapObjects.length - 1);
      } else {
        const [d, k, q] = heapTyped;
        d.push(deadline);
        k.push(repr === "packed" ? r.ms * 4096 + r.seq : r.ms);
        q.push(r.queue_id);
        siftUp({ get: (i) => d.a[i], swap: (i, j) => { for (const g of heapTyped) [g.a[i], g.a[j]] = [g.a[j], g.a[i]]; } }, d.n - 1);
      }
      continue;
    }
    if (repr === "objects") {
      let list = waitingObjects.get(r.queue_id);
      if (!list) waitingObjects.set(r.queue_id, (list = []));
      list.push({ ms: r.ms, seq: r.seq });
    } else {
      let pair = waitingTyped.get(r.queue_id);
      if (!pair) waitingTyped.set(r.queue_id, (pair = [new Grow(new Float64Array(1024)), new Grow(new Uint32Array(repr === "packed" ? 0 : 1024))]));
      if (repr === "packed") {
        if (r.seq >= 4096) throw new Error("packed keys need seq < 4096");
        pair[0].push(r.ms * 4096 + r.seq);
      } else {
        pair[0].push(r.ms);
        pair[1].push(r.seq);
      }
    }
  }
  let typedBytes = 0;
  for (const pair of waitingTyped.values()) for (const g of pair) typedBytes += g.trim().byteLength;
  for (const g of heapTyped) typedBytes += g.trim().byteLength;
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  Bun.gc(true);
  const rss = rssBytes() - rss0;
  const heap = heapStats().heapSize - heap0;
  // Keep the structures alive until measured.
  const kept = waitingObjects.size + waitingTyped.size + heapObjects.length + heapTyped.length;
  console.log(JSON.stringify({ seconds, held, rss, heap, typedBytes, kept }));
}

function main() {
  if (process.argv.includes("--child")) return child(flag("db", ""), flag("layout", "b") as "b" | "d", flag("repr", "objects"));
  const rows = numberFlag("rows", 1_000_000);
  const layout = flag("layout", "b") as "b" | "d";
  const repeat = numberFlag("repeat", 3);
  const budget = new Budget(numberFlag("budget", 110));
  const given = flag("db", "");
  const dir = given ? "" : labDir("rebuild");
  const path = given || join(dir, "lab.db");
  console.error(machineLine());
  try {
    if (!existsSync(path)) console.error(`built ${rows} rows of layout ${layout} in ${build(path, layout, rows).toFixed(1)} s`);
    const reprs = listFlag("reprs", "objects,parallel,packed");
    const results = new Map<string, { seconds: number; held: number; rss: number; heap: number; typedBytes: number }[]>();
    outer: for (let r = 0; r < repeat; r++)
      for (const repr of reprs) {
        if (budget.over) break outer;
        const p = Bun.spawnSync([process.execPath, import.meta.path, "--child", "--db", path, "--layout", layout, "--repr", repr]);
        if (p.exitCode !== 0) throw new Error(p.stderr.toString());
        const res = JSON.parse(p.stdout.toString());
        results.set(repr, [...(results.get(repr) ?? []), res]);
        console.error(`rep ${r + 1} ${repr}: ${res.seconds.toFixed(2)} s, ${(res.rss / res.held).toFixed(1)} B RSS per task held`);
      }
    console.log(`${rows} rows, layout ${layout}, 4 queues (90% waiting, 5% in flight, 5% done), ${repeat} repetitions; median (min-max)`);
    console.log(markdown(["representation", "tasks held", "load s", "rows/s", "RSS delta B/task", "JS heap delta B/task", "typed arrays B/task"],
      [...results].map(([repr, rs]) => [repr, String(rs[0].held), spread(rs.map((x) => x.seconds), 2), spread(rs.map((x) => rows / x.seconds)),
        spread(rs.map((x) => x.rss / x.held), 1), spread(rs.map((x) => x.heap / x.held), 1), spread(rs.map((x) => x.typedBytes / x.held), 1)])));
  } finally {
    if (dir) removeDir(dir);
  }
}

main();
