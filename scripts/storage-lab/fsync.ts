#!/usr/bin/env bun
// Experiment 3: what a durable commit costs on this disk. Three parts:
//   1. dd's fsync'd sequential write rate (dd if=/dev/zero bs=64k count=2000 conv=fdatasync);
//   2. WAL bytes one commit appends, per layout, at 64 tasks per transaction (WAL file growth
//      with checkpoints off, over whole lifecycles: insert + claim + ack);
//   2b. WAL bytes per step (insert, claim, ack) of a 16 KiB row in layout b, with status codes
//      0/1/2 (the ack changes the record's size) or 10/11/12 (every record keeps its size);
//   3. a write + fdatasync loop at those sizes: appending to a growing file, and overwriting a
//      preallocated one (a WAL being reused after a checkpoint reset).
// dd and the loops are interleaved across repetitions.
//
// usage: bun scripts/storage-lab/fsync.ts [--repeat 3] [--seconds 1.5] [--dir DIR]
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileBytes, labDir, machineLine, markdown, numberFlag, payloadOf, removeDir, spread } from "./lab.ts";
import { type Layout, LAYOUT_NAMES, makeOps, openDb } from "./layouts.ts";

const WAL_TASKS = 20_480;
const BATCH = 64;

/** Bytes the WAL grows per commit, whole lifecycles at BATCH tasks per transaction (FULL). */
function walBytesPerCommit(dir: string, layout: Layout, payloadBytes: number): number {
  const path = join(dir, `wal-${layout}-${payloadBytes}.db`);
  const db = openDb(path, layout, "full");
  const ops = makeOps(db, layout, "row", payloadOf(payloadBytes), "none");
  const batches = WAL_TASKS / BATCH;
  const start = fileBytes(`${path}-wal`);
  for (let k = 0; k < batches + 2; k++) {
    db.run("BEGIN");
    if (k >= 2) ops.ack((k - 2) * BATCH, BATCH);
    if (k >= 1 && k - 1 < batches) ops.claim((k - 1) * BATCH, BATCH);
    if (k < batches) ops.insert(k * BATCH, BATCH);
    db.run("COMMIT");
  }
  const bytes = (fileBytes(`${path}-wal`) - start) / (batches + 2);
  db.close();
  for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
  return bytes;
}

/** WAL bytes per task for each step of a 16 KiB row of layout b, given the three status codes. */
function walPerStep(dir: string, codes: [number, number, number]): number[] {
  const path = join(dir, `steps-${codes[0]}.db`);
  const db = openDb(path, "b", "normal");
  const payload = payloadOf(16384);
  const insert = db.query("INSERT INTO tasks VALUES (1, ?, 0, ?, ?)");
  const update = db.query("UPDATE tasks SET status = ? WHERE queue_id = 1 AND ms = ? AND seq = 0");
  const n = 640;
  const steps = [(i: number) => insert.run(i, codes[0], payload), (i: number) => update.run(codes[1], i), (i: number) => update.run(codes[2], i)];
  const bytes = steps.map((step) => {
    const w0 = fileBytes(`${path}-wal`);
    db.transaction(() => { for (let i = 0; i < n; i++) step(i); })();
    return (fileBytes(`${path}-wal`) - w0) / n;
  });
  db.close();
  for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
  return bytes;
}

/** dd's own rate line, in MB/s (dd's MB = 10^6 bytes). */
function ddRate(dir: string): number {
  const file = join(dir, "dd.bin");
  const r = Bun.spawnSync(["dd", "if=/dev/zero", `of=${file}`, "bs=64k", "count=2000", "conv=fdatasync"]);
  rmSync(file, { force: true });
  const text = r.stderr.toString();
  const m = /copied, ([\d.]+) s/.exec(text);
  if (r.exitCode !== 0 || !m) throw new Error(`dd failed: ${text}`);
  return (2000 * 65536) / Number(m[1]) / 1e6;
}

/** Commits per second of write(size) + fdatasync, appending or overwriting in place. */
function syncLoop(dir: string, size: number, mode: "append" | "overwrite", seconds: number): number {
  const file = join(dir, `loop-${mode}.bin`);
  const fd = openSync(file, "w");
  const buf = Buffer.alloc(size, 0x78);
  const span = 64 << 20; // overwrite cycles through a preallocated 64 MiB file
  if (mode === "overwrite") {
    const chunk = Buffer.alloc(1 << 20);
    for (let at = 0; at < span; at += chunk.length) writeSync(fd, chunk, 0, chunk.length, at);
    fdatasyncSync(fd);
  }
  let n = 0;
  let at = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    writeSync(fd, buf, 0, size, at);
    fdatasyncSync(fd);
    at += size;
    if (mode === "overwrite" && at + size > span) at = 0;
    n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  closeSync(fd);
  rmSync(file, { force: true });
  return rate;
}

function main() {
  const repeat = numberFlag("repeat", 3);
  const seconds = numberFlag("seconds", 1.5);
  const dir = labDir("fsync");
  console.error(machineLine());
  try {
    const walRows: string[][] = [];
    const sizes = new Map<string, number>([["4 KiB (one page)", 4096]]);
    for (const [layout, payload] of [["a", 64], ["b", 64], ["c", 64], ["d", 64], ["e", 64], ["b", 16384], ["d", 16384], ["e", 16384]] as [Layout, number][]) {
      const bytes = walBytesPerCommit(dir, layout, payload);
      walRows.push([LAYOUT_NAMES[layout], `${payload} B`, (bytes / 1024).toFixed(1), (bytes / BATCH).toFixed(0)]);
      if (payload === 64 && (layout === "a" || layout === "b")) sizes.set(`WAL of one commit, layout ${layout}`, Math.round(bytes));
      if (payload === 16384 && layout === "b") sizes.set("WAL of one commit, layout b, 16 KiB payloads", Math.round(bytes));
      console.error(`WAL ${layout} ${payload} B: ${Math.round(bytes)} bytes per commit`);
    }
    console.log(`WAL bytes per commit, ${BATCH} lifecycles per transaction (${WAL_TASKS} tasks, checkpoints off, synchronous FULL)`);
    console.log(markdown(["layout", "payload", "WAL KiB per commit", "WAL bytes per lifecycle"], walRows));

    const stepRows = ([[0, 1, 2], [10, 11, 12]] as [number, number, number][]).map((codes) =>
      [codes.join(" / "), ...walPerStep(dir, codes).map((b) => b.toFixed(0))]);
    console.log("\nWAL bytes per task and step, layout b, 16 KiB payload (640 tasks per transaction)");
    console.log(markdown(["status codes waiting / in flight / done", "insert", "claim", "ack"], stepRows));

    sizes.set("64 KiB", 65536);
    const dd: number[] = [];
    const loops = new Map<string, number[]>();
    for (let r = 0; r < repeat; r++) {
      dd.push(ddRate(dir));
      for (const [name, size] of sizes)
        for (const mode of ["append", "overwrite"] as const) {
          const key = `${name}|${size}|${mode}`;
          loops.set(key, [...(loops.get(key) ?? []), syncLoop(dir, size, mode, seconds)]);
        }
      console.error(`rep ${r + 1}: dd ${dd[r].toFixed(0)} MB/s`);
    }
    console.log(`\ndd if=/dev/zero of=${dir}/dd.bin bs=64k count=2000 conv=fdatasync: ${spread(dd, 0)} MB/s, ${repeat} runs; median (min-max)\n`);
    console.log(`write + fdatasync loop, ${seconds} s per cell, ${repeat} repetitions interleaved; median (min-max)`);
    console.log(markdown(["size written per commit", "bytes", "mode", "commits/s", "us per commit", "MB/s"],
      [...loops].map(([key, rates]) => {
        const [name, size, mode] = key.split("|");
        return [name, size, mode, spread(rates), spread(rates.map((x) => 1e6 / x)), spread(rates.map((x) => (x * Number(size)) / 1e6), 1)];
      })));
  } finally {
    removeDir(dir);
  }
}

main();
