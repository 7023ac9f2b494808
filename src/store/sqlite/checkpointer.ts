// Copies committed WAL pages into ezra.db on a second thread, so a group-commit turn only
// appends to the WAL and never runs a checkpoint itself. Idle server: no thread work, no timers.
// The main connection keeps SQLite's own auto-checkpoint as a backstop (and to restart the WAL).

/** A checkpoint at most this often while writes go on: each one fsyncs ezra.db. */
const CHECKPOINT_INTERVAL_MS = 50;
/** WAL frames (pages) past which the thread restarts the WAL: 16 MiB. */
const RESTART_FRAMES = 4096;
/** How long a RESTART checkpoint waits for the writer's turn to end (its busy timeout). */
const RESTART_WAIT_MS = 200;
/** How long close() waits for the worker to finish its checkpoint and close its connection. */
const CLOSE_WAIT_MS = 5_000;

// The worker's code, inline so that `bun build --compile` needs no second entry point.
const WORKER_SOURCE = `
import { Database } from "bun:sqlite";
let db = null;
self.onmessage = (event) => {
  const { kind, path, done } = event.data;
  if (kind === "checkpoint") {
    try {
      db ??= new Database(path);
      db.exec("PRAGMA busy_timeout = 0");
      const passive = db.query("PRAGMA wal_checkpoint(PASSIVE)").get();
      // Under steady writes a PASSIVE checkpoint never catches the writer, so the WAL never
      // starts over and grows to the main connection's in-turn backstop (64 MiB), whose
      // checkpoint stalled turns up to 107 ms. Past RESTART_FRAMES, RESTART copies the few
      // frames left, holding the writer back briefly, and makes the next commit start the WAL over.
      if (passive && passive.log > ${RESTART_FRAMES}) {
        db.exec("PRAGMA busy_timeout = ${RESTART_WAIT_MS}");
        db.query("PRAGMA wal_checkpoint(RESTART)").get();
      }
    } catch {
      // Busy (the main connection is checkpointing) or closing: the next nudge retries.
    }
    postMessage("idle");
  } else if (kind === "close") {
    try { db?.close(); } catch {}
    db = null;
    const flag = new Int32Array(done);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  }
};
`;

export class Checkpointer {
  private worker: Worker | null = null;
  private running = false;
  /** A commit arrived while a checkpoint ran: schedule another when it ends. */
  private again = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly path: string) {}

  /** After a commit: make sure a checkpoint runs within CHECKPOINT_INTERVAL_MS. */
  committed(): void {
    if (this.closed || this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer = setTimeout(this.start, CHECKPOINT_INTERVAL_MS);
    this.timer.unref?.();
  }

  private readonly start = (): void => {
    this.timer = null;
    if (this.closed) return;
    this.running = true;
    this.again = false;
    this.spawn().postMessage({ kind: "checkpoint", path: this.path });
  };

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    const worker = new Worker(url);
    worker.unref();
    worker.onmessage = () => {
      this.running = false;
      if (this.again) this.committed();
    };
    // A thread that cannot run (or dies) must not leave `running` set forever: stop using it,
    // and SQLite's own auto-checkpoint (the backstop) keeps the WAL bounded.
    worker.onerror = (event) => {
      console.error(`ezra: checkpoint thread failed (${event.message}); SQLite's own checkpoints take over`);
      this.running = false;
      this.closed = true;
      this.worker = null;
      worker.terminate();
    };
    this.worker = worker;
    return worker;
  }

  /** Stops checkpointing; waits (bounded) until the worker has closed its connection. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    const done = new SharedArrayBuffer(4);
    worker.postMessage({ kind: "close", done });
    Atomics.wait(new Int32Array(done), 0, 0, CLOSE_WAIT_MS);
    worker.terminate();
  }
}
