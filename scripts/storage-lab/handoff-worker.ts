// The writer thread of the hand-off experiment (handoff.ts): owns the database (layout b), applies
// each batch it is handed as one transaction, and answers once its COMMIT returned.
// Batches arrive as an array of op objects (clone), a transferred packed ArrayBuffer (transfer),
// or in one of two halves of a SharedArrayBuffer, signalled with Atomics (sab).
import { Database } from "bun:sqlite";
import { threadCpuMs } from "./lab.ts";
import { DDL } from "./layouts.ts";
import { CTRL_COMMITTED, CTRL_PUBLISHED, HALF_BYTES, OP_ACK, OP_CLAIM, OP_PUSH, type Op, RECORD_HEADER_BYTES, SAB_DATA_OFFSET } from "./handoff-format.ts";

declare const self: Worker;

export interface Init {
  path: string;
  sync: "full" | "normal";
  format: "clone" | "transfer" | "sab";
  sab?: SharedArrayBuffer;
}

/** Opens the database and returns a function that commits one batch of packed records. */
export function openWriter(path: string, sync: string) {
  const db = new Database(path, { create: true });
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync.toUpperCase()}; PRAGMA cache_size = -65536;`);
  db.exec("PRAGMA wal_autocheckpoint = 0");
  db.exec(DDL.b);
  const begin = db.query("BEGIN");
  const commit = db.query("COMMIT");
  const push = db.query("INSERT INTO tasks VALUES (?, ?, ?, 0, ?)");
  const claim = db.query("UPDATE tasks SET status = 1 WHERE queue_id = ? AND ms = ? AND seq = ? AND status = 0");
  const ack = db.query("UPDATE tasks SET status = 2 WHERE queue_id = ? AND ms = ? AND seq = ? AND status = 1");
  let changes = 0;
  const apply = (op: number, q: number, ms: number, seq: number, payload: Uint8Array | null) => {
    if (op === OP_PUSH) changes += push.run(q, ms, seq, payload!).changes;
    else changes += (op === OP_CLAIM ? claim : ack).run(q, ms, seq).changes;
  };
  return {
    objects(ops: Op[]) {
      begin.run();
      for (const o of ops) apply(o.op, o.q, o.ms, o.seq, o.payload ?? null);
      commit.run();
    },
    packed(buf: ArrayBufferLike, start: number) {
      const view = new DataView(buf, start);
      const count = view.getUint32(0, true);
      let at = 8;
      begin.run();
      for (let i = 0; i < count; i++) {
        const op = view.getUint8(at);
        const len = view.getUint32(at + 20, true);
        const payload = op === OP_PUSH ? new Uint8Array(buf, start + at + RECORD_HEADER_BYTES, len) : null;
        apply(op, view.getUint32(at + 4, true), view.getFloat64(at + 8, true), view.getUint32(at + 16, true), payload);
        at += RECORD_HEADER_BYTES + ((len + 7) & ~7);
      }
      commit.run();
    },
    close() {
      db.close();
      return changes;
    },
  };
}

if (typeof self !== "undefined" && !Bun.isMainThread) {
  let writer: ReturnType<typeof openWriter>;
  let cpu0 = 0;
  self.onmessage = (e: MessageEvent) => {
    const m = e.data;
    if (m.init) {
      const init = m.init as Init;
      writer = openWriter(init.path, init.sync);
      cpu0 = threadCpuMs();
      self.postMessage({ ready: true });
      if (init.format === "sab") sabLoop(init.sab!);
    } else if (m.stop) {
      self.postMessage({ cpuMs: threadCpuMs() - cpu0, changes: writer.close() });
    } else if (m.buf) {
      writer.packed(m.buf as ArrayBuffer, 0);
      self.postMessage(m.k);
    } else {
      writer.objects(m.ops as Op[]);
      self.postMessage(m.k);
    }
  };

  // Blocks this thread between batches: the SAB path has no message queue at all. Batch k sits
  // in half k % 2; a published count of -1 means stop.
  function sabLoop(sab: SharedArrayBuffer) {
    const ctrl = new Int32Array(sab, 0, 4);
    for (let k = 0; ; k++) {
      Atomics.wait(ctrl, CTRL_PUBLISHED, k); // returns at once when batch k is already there
      if (Atomics.load(ctrl, CTRL_PUBLISHED) < 0) break;
      writer.packed(sab, SAB_DATA_OFFSET + (k % 2) * HALF_BYTES);
      Atomics.store(ctrl, CTRL_COMMITTED, k + 1);
      Atomics.notify(ctrl, CTRL_COMMITTED);
    }
    self.postMessage({ cpuMs: threadCpuMs() - cpu0, changes: writer.close() });
  }
}
