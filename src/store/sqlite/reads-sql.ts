// Statements for reading entries without claiming them (XRANGE, XREAD) and for the keyspace
// (which queues exist, DEL). Each walks task_state's primary key (key, ms, seq).
import type { Database } from "bun:sqlite";
import { TASK_COLUMNS, type TaskRow } from "./statements.ts";

/** The SQL text of every statement, exported so a test can check each plan uses an index. */
export const READ_SQL = {
  // Entries of one queue with start <= id <= end, oldest first: ?1 queue, ?2-?3 start, ?4-?5 end, ?6 count.
  rangeForward: `SELECT ${TASK_COLUMNS} FROM task_state s
    WHERE s.key = ?1 AND (s.ms, s.seq) >= (?2, ?3) AND (s.ms, s.seq) <= (?4, ?5)
    ORDER BY s.ms, s.seq LIMIT ?6`,
  rangeBackward: `SELECT ${TASK_COLUMNS} FROM task_state s
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
