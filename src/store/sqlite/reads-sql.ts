// Statements for reading entries without claiming them (XRANGE, XREAD) and for the keyspace
// (which queues exist, DEL). Each one walks the tasks_by_id index (queue, ms, seq).
import type { Database } from "bun:sqlite";
import type { TaskRow } from "./statements.ts";

/** The SQL text of every statement, exported so a test can check each plan uses an index. */
export const READ_SQL = {
  // Entries of one queue with start <= id <= end, oldest first: ?1 queue, ?2-?3 start, ?4-?5 end, ?6 count.
  rangeForward: `SELECT ms, seq, fields, attempts, max_attempts FROM tasks
    WHERE queue = ?1 AND (ms, seq) >= (?2, ?3) AND (ms, seq) <= (?4, ?5)
    ORDER BY ms, seq LIMIT ?6`,
  rangeBackward: `SELECT ms, seq, fields, attempts, max_attempts FROM tasks
    WHERE queue = ?1 AND (ms, seq) >= (?2, ?3) AND (ms, seq) <= (?4, ?5)
    ORDER BY ms DESC, seq DESC LIMIT ?6`,
  lastId: "SELECT ms, seq FROM tasks WHERE queue = ?1 ORDER BY ms DESC, seq DESC LIMIT 1",
  hasTasks: "SELECT 1 AS found FROM tasks WHERE queue = ?1 LIMIT 1",
  // LPUSH's reply: waiting tasks, counted no further than ?2 so a long queue costs no more.
  countWaitingUpTo: `SELECT count(*) AS n FROM
    (SELECT 1 FROM tasks WHERE queue = ?1 AND status = 'available' LIMIT ?2)`,
  // DEL: everything recorded under a queue name.
  deleteTasks: "DELETE FROM tasks WHERE queue = ?1",
  deleteGroups: "DELETE FROM groups WHERE queue = ?1",
  deleteConsumers: "DELETE FROM consumers WHERE queue = ?1",
  deleteQueue: "DELETE FROM queues WHERE name = ?1",
} as const;

export function prepareReads(db: Database) {
  const q = <T = unknown>(sql: string) => db.query<T, any>(sql);
  return {
    rangeForward: q<TaskRow>(READ_SQL.rangeForward),
    rangeBackward: q<TaskRow>(READ_SQL.rangeBackward),
    lastId: q<{ ms: number; seq: number }>(READ_SQL.lastId),
    hasTasks: q<{ found: number }>(READ_SQL.hasTasks),
    countWaitingUpTo: q<{ n: number }>(READ_SQL.countWaitingUpTo),
    deleteTasks: q(READ_SQL.deleteTasks),
    deleteGroups: q(READ_SQL.deleteGroups),
    deleteConsumers: q(READ_SQL.deleteConsumers),
    deleteQueue: q(READ_SQL.deleteQueue),
  };
}

export type ReadStatements = ReturnType<typeof prepareReads>;
