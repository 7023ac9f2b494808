#!/usr/bin/env bun
// Experiment 2: the hand-off from the main thread to a writer thread that owns the database.
// The main thread gathers batch k+1 (N pushes, N claims of batch k's tasks, N acks of batch k-1's)
// while the writer commits batch k: one batch in flight. Formats compared, interleaved:
//   inline   - no thread: the main thread runs the statements and the COMMIT itself
//   clone    - postMessage of an array of op objects (structured clone, payloads copied)
//   transfer - one packed ArrayBuffer per batch, postMessage with a transfer list
//   sab      - packed into a SharedArrayBuffer half, Atomics.notify to the writer,
//              Atomics.waitAsync on the main thread for its commit
// Reports lifecycles/s and the CPU time per lifecycle of the main thread and the writer thread
// (/proc/thread-self/stat), plus main-thread wall time spent gathering and posting.
//
// usage: bun scripts/storage-lab/handoff.ts [--tasks 200000] [--payload 64] [--batch 64]
//          [--sync full,normal] [--formats inline,clone,transfer,sab] [--repeat 3] [--budget 110] [--dir DIR]
import { join } from "node:path";
import { Budget, labDir, listFlag, machineLine, markdown, numberFlag, payloadOf, processCpuMs, removeDir, spread, threadCpuMs } from "./lab.ts";
import { msOf, seqOf } from "./layouts.ts";
import { CTRL_COMMITTED, CTRL_PUBLISHED, HALF_BYTES, OP_ACK, OP_CLAIM, OP_PUSH, type Op, Packer, packedBytes, SAB_DATA_OFFSET } from "./handoff-format.ts";
import { type Init, openWriter } from "./handoff-worker.ts";

type Format = "inline" | "clone" | "transfer" | "sab";
interface Result { perSec: number; mainUs: number; writerUs: number; otherUs: number; postUs: number }

const Q = 1;

/** Runs `tasks` lifecycles through one format; the batch gatherer is the same for all. */
async function runOnce(format: Format, sync: "full" | "normal", tasks: number, batch: number, payloadBytes: number): Promise<Result> {
  const dir = labDir("handoff");
  const path = join(dir, "lab.db");
  // Payloads arrive as slices of a socket read; each push copies its own (as a decoder would).
  const socket = new Uint8Array(batch * payloadBytes);
  socket.set(payloadOf(batch * payloadBytes));
  const batches = Math.ceil(tasks / batch);
  const turns = batches + 2;

  // Ops of turn k: acks of batch k-2, claims of batch k-1, pushes of batch k.
  const eachOp = (k: number, f: (op: number, i: number, payload?: Uint8Array) => void) => {
    if (k >= 2) for (let i = (k - 2) * batch; i < (k - 1) * batch; i++) f(OP_ACK, i);
    if (k >= 1 && k - 1 < batches) for (let i = (k - 1) * batch; i < k * batch; i++) f(OP_CLAIM, i);
    if (k < batches) for (let j = 0, i = k * batch; j < batch; j++, i++) f(OP_PUSH, i, socket.subarray(j * payloadBytes, (j + 1) * payloadBytes));
  };
  const opsOf = (k: number): Op[] => {
    const ops: Op[] = [];
    eachOp(k, (op, i, p) => ops.push(p ? { op, q: Q, ms: msOf(i), seq: seqOf(i), payload: p.slice() } : { op, q: Q, ms: msOf(i), seq: seqOf(i) }));
    return ops;
  };
  const pack = (k: number, view: DataView) => {
    const packer = new Packer(view);
    eachOp(k, (op, i, p) => packer.add(op, Q, msOf(i), seqOf(i), p));
    packer.finish();
  };
  const bytesPerTurn = packedBytes(batch, 2 * batch, payloadBytes);
  if (bytesPerTurn > HALF_BYTES) throw new Error("batch too large for a SharedArrayBuffer half");

  let postMs = 0;
  let spuriousWakes = 0;
  const cpuMain0 = threadCpuMs();
  const cpuAll0 = processCpuMs();
  const t0 = performance.now();
  let writerCpuMs = 0;
  let changes = 0;
  try {
    if (format === "inline") {
      const writer = openWriter(path, sync);
      for (let k = 0; k < turns; k++) {
        const buf = new ArrayBuffer(bytesPerTurn);
        pack(k, new DataView(buf));
        writer.packed(buf, 0);
      }
      changes = writer.close(); // writer CPU is main-thread CPU here
    } else {
      const worker = new Worker(new URL("./handoff-worker.ts", import.meta.url).href);
      const inbox: ((m: any) => void)[] = [];
      worker.onmessage = (e) => inbox.shift()!(e.data);
      const next = () => new Promise<any>((resolve) => inbox.push(resolve));
      const sab = format === "sab" ? new SharedArrayBuffer(SAB_DATA_OFFSET + 2 * HALF_BYTES) : undefined;
      const ctrl = sab ? new Int32Array(sab, 0, 4) : undefined;
      const init: Init = { path, sync, format, sab };
      let reply = next();
      worker.postMessage({ init });
      await reply;
      // Gathers turn k in this format and returns what posting it takes.
      const gather = (k: number): (() => void) => {
        const s = performance.now();
        let post: () => void;
        if (format === "clone") {
          const ops = opsOf(k);
          post = () => worker.postMessage({ k, ops });
        } else if (format === "transfer") {
          const buf = new ArrayBuffer(bytesPerTurn);
          pack(k, new DataView(buf));
          post = () => worker.postMessage({ k, buf }, [buf]);
        } else {
          pack(k, new DataView(sab!, SAB_DATA_OFFSET + (k % 2) * HALF_BYTES, HALF_BYTES));
          post = () => {
            Atomics.store(ctrl!, CTRL_PUBLISHED, k + 1);
            Atomics.notify(ctrl!, CTRL_PUBLISHED);
          };
        }
        postMs += performance.now() - s;
        return post;
      };
      // Bun exits when only an Atomics.waitAsync is pending (seen here): a timer keeps it alive,
      // as a server's listening socket would.
      const keepAlive = setInterval(() => {}, 1000);
      const committed = async (k: number) => {
        if (format !== "sab") return reply;
        // Checked again after each wake: the writer stores, then notifies, so the notify of
        // batch k-1 can arrive after this waiter for batch k is registered (seen here).
        while (Atomics.load(ctrl!, CTRL_COMMITTED) <= k) {
          const w = Atomics.waitAsync(ctrl!, CTRL_COMMITTED, k);
          if (w.async && (await w.value) === "ok" && Atomics.load(ctrl!, CTRL_COMMITTED) <= k) spuriousWakes++;
        }
      };
      let post = gather(0);
      for (let k = 0; k < turns; k++) {
        const s = performance.now();
        if (format !== "sab") reply = next();
        post();
        postMs += performance.now() - s;
        if (k + 1 < turns) post = gather(k + 1); // gathers while batch k commits
        await committed(k);
      }
      reply = next();
      if (format === "sab") {
        Atomics.store(ctrl!, CTRL_PUBLISHED, -1);
        Atomics.notify(ctrl!, CTRL_PUBLISHED);
      } else worker.postMessage({ stop: true });
      const end = await reply;
      writerCpuMs = end.cpuMs;
      changes = end.changes;
      clearInterval(keepAlive);
      worker.terminate();
    }
  } finally {
    removeDir(dir);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (spuriousWakes > 0) console.error(`${format}: ${spuriousWakes} early waitAsync wakes (a previous commit's notify), re-checked`);
  if (changes !== 3 * batches * batch) throw new Error(`${format}: ${changes} rows changed, expected ${3 * batches * batch}`);
  const n = batches * batch;
  const mainMs = threadCpuMs() - cpuMain0;
  const allMs = processCpuMs() - cpuAll0;
  return { perSec: n / seconds, mainUs: (mainMs * 1000) / n, writerUs: (writerCpuMs * 1000) / n, otherUs: ((allMs - mainMs - writerCpuMs) * 1000) / n, postUs: (postMs * 1000) / n };
}

async function main() {
  const tasks = numberFlag("tasks", 200_000);
  const payloadBytes = numberFlag("payload", 64);
  const batch = numberFlag("batch", 64);
  const repeat = numberFlag("repeat", 3);
  const budget = new Budget(numberFlag("budget", 110));
  const formats = listFlag("formats", "inline,clone,transfer,sab") as Format[];
  const syncs = listFlag("sync", "full,normal") as ("full" | "normal")[];
  console.error(machineLine());
  const results = new Map<string, Result[]>();
  outer: for (let r = 0; r < repeat; r++)
    for (const sync of syncs)
      for (const f of formats) {
        if (budget.over) {
          console.error(`storage-lab: budget spent, stopping in repetition ${r + 1}`);
          break outer;
        }
        const res = await runOnce(f, sync, tasks, batch, payloadBytes);
        const key = `${sync} ${f}`;
        results.set(key, [...(results.get(key) ?? []), res]);
        console.error(`rep ${r + 1} ${key}: ${Math.round(res.perSec)}/s main ${res.mainUs.toFixed(1)} us writer ${res.writerUs.toFixed(1)} us gather+post ${res.postUs.toFixed(2)} us`);
      }
  console.log(`${tasks} tasks, ${payloadBytes} B payloads, ${batch} lifecycles per batch, layout b, ${repeat} repetitions interleaved; median (min-max)`);
  const rows = [...results].map(([key, rs]) => [...key.split(" ").map((s, i) => (i === 0 ? s.toUpperCase() : s)),
    spread(rs.map((x) => x.perSec)), spread(rs.map((x) => x.mainUs), 1), spread(rs.map((x) => x.writerUs), 1),
    spread(rs.map((x) => x.otherUs), 1), spread(rs.map((x) => x.postUs), 2)]);
  console.log(markdown(["sync", "format", "lifecycles/s", "main CPU us/lifecycle", "writer CPU us/lifecycle", "other threads us/lifecycle", "main gather+post wall us/lifecycle"], rows));
}

await main();
