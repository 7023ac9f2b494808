#!/usr/bin/env bun
// Experiment 1: lifecycles/s (insert + claim + ack per task) of each table layout, synchronous
// mode, tasks per transaction and statement style, on a fresh WAL database per run. Each
// transaction is one server turn in steady state: ack batch k-2, claim batch k-1, insert batch k.
// Configurations are interleaved within each repetition, so a busy neighbour hits them all alike.
//
// usage: bun scripts/storage-lab/lifecycle.ts [--tasks 200000] [--payload 64] [--layouts a,b,c,d(,e)]
//          [--sync full,normal] [--batch 64,256] [--style row|values|json,...] [--repeat 3]
//          [--read none|select|returning,...] [--budget 110] [--dir DIR]
// --read: how claims of layouts b-d get payloads (none: held in memory; see layouts.ts).
import { join } from "node:path";
import { Budget, fileBytes, flag, labDir, listFlag, machineLine, markdown, numberFlag, payloadOf, processCpuMs, removeDir, spread } from "./lab.ts";
import { type Layout, LAYOUT_NAMES, makeOps, openDb, type Read, type Style } from "./layouts.ts";

interface Config {
  layout: Layout;
  sync: "full" | "normal";
  batch: number;
  style: Style;
  read: Read;
}

interface Result {
  /** Wall microseconds per lifecycle in each step: insert, claim, ack, COMMIT. */
  steps: number[];
  perSec: number;
  cpuUsPerTask: number;
  walBytesPerTxn: number;
}

function runOnce(c: Config, tasks: number, payloadBytes: number): Result {
  const dir = labDir("lifecycle");
  try {
    const path = join(dir, "lab.db");
    const db = openDb(path, c.layout, c.sync);
    const ops = makeOps(db, c.layout, c.style, payloadOf(payloadBytes), c.read);
    const begin = db.query("BEGIN");
    const commit = db.query("COMMIT");
    const batches = Math.ceil(tasks / c.batch);
    const walStart = fileBytes(`${path}-wal`);
    const cpu0 = processCpuMs();
    const t0 = performance.now();
    let claimed = 0;
    const steps = [0, 0, 0, 0];
    let t = t0;
    const lap = (step: number) => {
      const now = performance.now();
      steps[step] += now - t;
      t = now;
    };
    // Two extra turns drain the pipeline: the last batch is claimed, then acked.
    for (let k = 0; k < batches + 2; k++) {
      begin.run();
      t = performance.now();
      if (k >= 2) ops.ack((k - 2) * c.batch, c.batch);
      lap(2);
      if (k >= 1 && k - 1 < batches) claimed += ops.claim((k - 1) * c.batch, c.batch);
      lap(1);
      if (k < batches) ops.insert(k * c.batch, c.batch);
      lap(0);
      commit.run();
      lap(3);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = processCpuMs() - cpu0;
    const walBytes = fileBytes(`${path}-wal`) - walStart;
    const doneSql = c.layout === "a" ? "SELECT count(*) AS n FROM tasks WHERE status = 'done'"
      : `SELECT count(*) AS n FROM ${c.layout === "d" || c.layout === "e" ? "state" : "tasks"} WHERE status = 2`;
    const done = (db.query(doneSql).get() as { n: number }).n;
    db.close();
    const total = batches * c.batch;
    // A run that did not take every task through its lifecycle measured something else.
    if (claimed !== total || done !== total) throw new Error(`${JSON.stringify(c)}: claimed ${claimed}, done ${done} of ${total}`);
    return { steps: steps.map((ms) => (ms * 1000) / total), perSec: total / seconds, cpuUsPerTask: (cpuMs * 1000) / total, walBytesPerTxn: walBytes / (batches + 2) };
  } finally {
    removeDir(dir);
  }
}

function main() {
  const tasks = numberFlag("tasks", 200_000);
  const payloadBytes = numberFlag("payload", 64);
  const repeat = numberFlag("repeat", 3);
  const budget = new Budget(numberFlag("budget", 110));
  const configs: Config[] = [];
  for (const batch of listFlag("batch", "64,256").map(Number))
    for (const sync of listFlag("sync", "full,normal") as Config["sync"][])
      for (const style of listFlag("style", "row") as Style[])
        for (const read of listFlag("read", "none") as Read[])
          for (const layout of listFlag("layouts", "a,b,c,d") as Layout[]) {
            // Layout a reads payloads in its claim whatever --read says: one row for it.
            if (layout !== "a" || read === listFlag("read", "none")[0]) configs.push({ layout, sync, batch, style, read });
          }

  console.error(machineLine());
  const results = new Map<Config, Result[]>(configs.map((c) => [c, []]));
  let stopped = false;
  for (let r = 0; r < repeat && !stopped; r++) {
    for (const c of configs) {
      if (budget.over) {
        stopped = true;
        console.error(`storage-lab: budget spent, stopping in repetition ${r + 1}`);
        break;
      }
      const res = runOnce(c, tasks, payloadBytes);
      results.get(c)!.push(res);
      console.error(`rep ${r + 1} ${c.layout} ${c.sync} ${c.batch} ${c.style} ${c.read}: ${Math.round(res.perSec)}/s, ${res.cpuUsPerTask.toFixed(1)} us CPU/task`);
    }
  }

  const fat = payloadBytes >= 1024;
  const header = ["layout", "sync", "tasks/txn", "style", "claim reads payload", "lifecycles/s", "CPU us/lifecycle", "wall us: insert / claim / ack / commit", "WAL KiB/txn"];
  if (fat) header.push("payload MB/s");
  const rows = configs.map((c) => {
    const rs = results.get(c)!;
    const row = [LAYOUT_NAMES[c.layout], c.sync.toUpperCase(), String(c.batch), c.style, c.layout === "a" ? "in its SELECT" : c.read,
      spread(rs.map((x) => x.perSec)), spread(rs.map((x) => x.cpuUsPerTask), 1),
      [0, 1, 2, 3].map((i) => spread(rs.map((x) => x.steps[i]), 1).replace(/ \(.*\)/, "")).join(" / "), spread(rs.map((x) => x.walBytesPerTxn / 1024), 1)];
    if (fat) row.push(spread(rs.map((x) => (x.perSec * payloadBytes) / 1e6), 1));
    return row;
  });
  console.log(`${tasks} tasks, ${payloadBytes} B payloads, ${repeat} repetitions interleaved; median (min-max)`);
  console.log(markdown(header, rows));
  if (flag("dir", "") === "") console.error("(files under the system temp dir; pass --dir to measure another disk)");
}

main();
