// Pushes written in multi-row INSERTs. A push waits here until any other statement of the
// driver is about to run (a claim, a read, the COMMIT), then goes in with every push before it:
// each statement still sees every push that came before it, and a turn of 64 pushes costs two
// statements instead of 128 (2.9 against 6.2 us a task under the 8x8 load: docs/storage.md).
import type { Database, Statement } from "bun:sqlite";
import type { NewTask } from "../driver.ts";
import { TASK_SQL } from "./statements.ts";

/** Rows per multi-row INSERT (5 parameters each; SQLite allows 32,766 per statement). */
const INSERT_ROWS_MAX = 64;

export class PushWriter {
  private unwritten: NewTask[] = [];
  private readonly insertsByRows = new Map<number, { payloads: Statement; states: Statement }>();

  /** `keyOf`: the integer key a queue's tasks are filed under (driver.ts). */
  constructor(
    private readonly db: Database,
    private readonly keyOf: (queue: string) => number,
  ) {}

  add(task: NewTask): void {
    this.unwritten.push(task);
  }

  /** A rollback: the pushes of the turn are gone with it. */
  drop(): void {
    this.unwritten = [];
  }

  /** Makes every statement of `statements` write the waiting pushes first (BEGIN and ROLLBACK excepted). */
  writeBefore(statements: Record<string, Statement>): void {
    for (const [name, statement] of Object.entries(statements)) {
      if (name === "rollback" || name === "begin") continue;
      for (const method of ["run", "get", "all", "iterate"] as const) {
        const direct = (statement[method] as (...args: unknown[]) => unknown).bind(statement);
        (statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
          if (this.unwritten.length > 0) this.write();
          return direct(...args);
        };
      }
    }
  }

  private write(): void {
    const tasks = this.unwritten;
    this.unwritten = [];
    for (let from = 0; from < tasks.length; from += INSERT_ROWS_MAX) {
      const chunk = tasks.slice(from, from + INSERT_ROWS_MAX);
      const { payloads, states } = this.insertsFor(chunk.length);
      const payloadArgs: unknown[] = [];
      const stateArgs: unknown[] = [];
      for (const t of chunk) {
        const key = this.keyOf(t.queue);
        payloadArgs.push(key >> 1, t.ms, t.seq, t.createdAt, t.fields);
        stateArgs.push(key, t.ms, t.seq, t.maxAttempts, t.expiresAt);
      }
      payloads.run(...(payloadArgs as never[]));
      states.run(...(stateArgs as never[]));
    }
  }

  /** The INSERTs for `rows` tasks, prepared on first use. */
  private insertsFor(rows: number): { payloads: Statement; states: Statement } {
    let inserts = this.insertsByRows.get(rows);
    if (!inserts) {
      const values = (columns: number) => Array.from({ length: rows }, () => `(${Array(columns).fill("?").join(", ")})`).join(", ");
      inserts = {
        payloads: this.db.prepare(`${TASK_SQL.insertPayloads} ${values(5)}`),
        states: this.db.prepare(`${TASK_SQL.insertStates} ${values(5)}`),
      };
      this.insertsByRows.set(rows, inserts);
    }
    return inserts;
  }
}
