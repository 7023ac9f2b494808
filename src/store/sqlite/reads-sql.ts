// Statements for reading entries without claiming them (XRANGE, XREAD) and for the keyspace
// (which queues exist, DEL). Each walks task_state's primary key (key, ms, seq).
import type { Database } from "bun:sqlite";
import { type TaskRow, WITH_PAYLOAD } from "./statements.ts";

const ROW = "s.ms AS ms, s.seq AS seq, p.fields AS fields, s.attempts AS attempts, s.max_attempts AS max_attempts";

/** The SQL text of every statement, exported so a test can check each plan uses an index. */
export const READ_SQL = {
  // Entries of one queue with start <= id <= end, oldest first: ?1 queue, ?2-?3 start, ?4-?5 end, ?6 count.
  rangeForward: `SELECT ${ROW} FROM task_state s ${WITH_PAYLOAD}
    WHERE s.key = ?1 AND (s.ms, s.seq) >= (?2, ?3) AND (s.ms, s.seq) <= (?4, ?5)
    ORDER BY s.ms, s.seq LIMIT ?6`,
  rangeBackward: `SELECT ${ROW} FROM task_state s ${WITH_PAYLOAD}
    WHERE s.key = ?1 AND (s.ms, s.seq) >= (?2, ?3) AND (s.ms, s.seq) <= (?4, ?5)
    ORDER BY s.ms DESC, s.seq DESC LIMIT ?6`,
  hasTasks: "SELECT 1 AS found FROM task_state WHERE key = ?1 LIMIT 1",
  // DEL: every task filed under a key (task_state_gone takes the payloads with them).
  deleteTasks: "DELETE FROM task_state WHERE key = ?1",
  deleteGroups: "DELETE FROM groups WHERE queue = ?1",
  deleteConsumers: "DELETE FROM consumers WHERE queue = ?1",
  deleteQueue: "DELETE FROM queues WHERE id = ?1",
} as const;

export function prepareReads(db: Database) {
  const q = <T = unknown>(sql: string) => db.query<T, any>(sql);
  return {
    rangeForward: q<TaskRow>(READ_SQL.rangeForward),
    rangeBackward: q<TaskRow>(READ_SQL.rangeBackward),
    hasTasks: q<{ found: number }>(READ_SQL.hasTasks),
    deleteTasks: q(READ_SQL.deleteTasks),
    deleteGroups: q(READ_SQL.deleteGroups),
    deleteConsumers: q(READ_SQL.deleteConsumers),
    deleteQueue: q(READ_SQL.deleteQueue),
  };
}

export type ReadStatements = ReturnType<typeof prepareReads>;
