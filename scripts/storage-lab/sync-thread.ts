#!/usr/bin/env bun
// Experiment 6: which way of running fdatasync off the main thread suits Bun. Each method runs
// `--syncs` write(4 KiB) + fdatasync rounds on one preallocated file, one sync in flight at a
// time, while the main thread spins on setImmediate to see whether its event loop keeps going:
//   inline   fdatasyncSync on the main thread (what ezra did before the sync went off it);
//   fs-async node:fs fdatasync(fd, callback);
//   worker   a Worker calling fdatasyncSync on the same fd number, asked and answered by postMessage;
//   worker-atomics  the same, asked through Atomics.notify and heard through Atomics.waitAsync.
// Reported per sync: the main thread's time inside the call that starts it, the time until the
// main thread hears it is done, the event-loop passes that ran meanwhile, the longest gap
// between two passes (p99), and the main thread's CPU; each method also runs once with an idle
// loop (no spinning), where the CPU is the method's own. Methods are interleaved across repetitions.
//
// usage: bun scripts/storage-lab/sync-thread.ts [--repeat 3] [--syncs 2000] [--dir DIR]
import { closeSync, fdatasync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { labDir, machineLine, markdown, numberFlag, removeDir, spread, threadCpuMs } from "./lab.ts";

const PAGE = new Uint8Array(4096).fill(7);
const FILE_PAGES = 256;

const WORKER_SOURCE = `
import { fdatasyncSync } from "node:fs";
self.onmessage = (event) => {
  try { fdatasyncSync(event.data); postMessage(null); } catch (err) { postMessage(String(err)); }
};
`;

// The same thread, driven through shared memory: it sleeps in Atomics.wait, the main thread
// hears it is done through Atomics.waitAsync (no message queue in either direction).
const ATOMICS_SOURCE = `
import { fdatasyncSync } from "node:fs";
self.onmessage = (event) => {
  const cells = new Int32Array(event.data);
  let seen = 0;
  for (;;) {
    Atomics.wait(cells, 0, seen);
    seen = Atomics.load(cells, 0);
    try { fdatasyncSync(cells[1]); } catch { cells[3] = 1; }
    Atomics.store(cells, 2, seen);
    Atomics.notify(cells, 2);
  }
};
`;

interface Result {
  callUs: number;
  doneUs: number;
  passes: number;
  gapUs: number;
  cpuUs: number;
}

type Starter = (fd: number, done: () => void) => void;

function methods(): Record<string, Starter> {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
  const worker = new Worker(url);
  worker.unref();
  let onWorkerDone: (() => void) | null = null;
  worker.onmessage = (event) => {
    if (event.data !== null) throw new Error(event.data);
    onWorkerDone?.();
  };
  const cells = new Int32Array(new SharedArrayBuffer(16));
  const spinner = new Worker(URL.createObjectURL(new Blob([ATOMICS_SOURCE], { type: "application/javascript" })));
  spinner.unref();
  spinner.postMessage(cells.buffer);
  return {
    inline: (fd, done) => {
      fdatasyncSync(fd);
      queueMicrotask(done);
    },
    "fs-async": (fd, done) => {
      fdatasync(fd, (err) => {
        if (err) throw err;
        done();
      });
    },
    worker: (fd, done) => {
      onWorkerDone = done;
      worker.postMessage(fd);
    },
    "worker-atomics": (fd, done) => {
      const ticket = cells[0] + 1;
      cells[1] = fd;
      Atomics.store(cells, 0, ticket);
      Atomics.notify(cells, 0);
      const wait = Atomics.waitAsync(cells, 2, ticket - 1);
      if (!wait.async) return done();
      void wait.value.then(() => {
        if (cells[3]) throw new Error("fdatasync failed");
        done();
      });
    },
  };
}

async function run(path: string, start: Starter, syncs: number, spinning: boolean): Promise<Result> {
  const fd = openSync(path, "r+");
  let passes = 0;
  let lastPass = -1;
  const gaps: number[] = [];
  const spin = () => {
    const now = performance.now();
    if (lastPass >= 0) gaps.push(now - lastPass);
    lastPass = now;
    passes++;
    if (spinning) setImmediate(spin);
  };
  if (spinning) setImmediate(spin);
  let callMs = 0;
  let doneMs = 0;
  const cpu0 = threadCpuMs();
  for (let i = 0; i < syncs; i++) {
    writeSync(fd, PAGE, 0, PAGE.byteLength, (i % FILE_PAGES) * PAGE.byteLength);
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      start(fd, resolve);
      callMs += performance.now() - t0;
    });
    doneMs += performance.now() - t0;
  }
  const cpuMs = threadCpuMs() - cpu0;
  spinning = false;
  closeSync(fd);
  gaps.sort((a, b) => a - b);
  const gapP99 = gaps.length > 0 ? gaps[Math.floor(gaps.length * 0.99)] : 0;
  return { callUs: (callMs * 1000) / syncs, doneUs: (doneMs * 1000) / syncs, passes: passes / syncs, gapUs: gapP99 * 1000, cpuUs: (cpuMs * 1000) / syncs };
}

const repeat = numberFlag("repeat", 3);
const syncs = numberFlag("syncs", 2000);
const dir = labDir("sync-thread");
try {
  const path = join(dir, "wal.bin");
  const fd = openSync(path, "w");
  for (let p = 0; p < FILE_PAGES; p++) writeSync(fd, PAGE);
  fdatasyncSync(fd);
  closeSync(fd);
  const all = methods();
  const results = new Map<string, Result[]>();
  for (let r = 0; r < repeat; r++) {
    for (const spinning of [true, false]) {
      for (const [name, start] of Object.entries(all)) {
        process.stderr.write(`${name} round ${r + 1}/${repeat}\n`);
        const key = `${name}, ${spinning ? "loop spinning" : "loop idle"}`;
        const list = results.get(key) ?? [];
        list.push(await run(path, start, syncs, spinning));
        results.set(key, list);
      }
    }
  }
  console.log(machineLine());
  console.log(`\nwrite(4 KiB) + fdatasync, ${syncs} per run, ${repeat} runs per method interleaved; median (min-max)\n`);
  const rows = [...results].map(([name, list]) => [
    name,
    spread(list.map((x) => x.callUs), 1),
    spread(list.map((x) => x.doneUs), 0),
    spread(list.map((x) => x.passes), 1),
    spread(list.map((x) => x.gapUs), 0),
    spread(list.map((x) => x.cpuUs), 0),
  ]);
  console.log(markdown(["method", "µs in the starting call", "µs until done is heard", "loop passes meanwhile", "p99 gap between passes, µs", "main-thread CPU µs per sync"], rows));
} finally {
  removeDir(dir);
}
process.exit(0);
