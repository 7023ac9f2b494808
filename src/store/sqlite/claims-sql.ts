// Statements for pending entries (XPENDING), claims (XCLAIM, XAUTOCLAIM) and group/consumer
// inspection. Reads of in-flight tasks walk tasks_by_status (queue, 'in_flight', ms, seq) in id
// order and filter the group there: in-flight tasks are few (workers x COUNT), and an index of
// their own would cost every claim and ack (measured: 10-20% of claim+ack throughput).
import type { Database } from "bun:sqlite";
import type { TaskRow } from "./statements.ts";

export interface PendingRow {
  ms: number;
  seq: number;
  worker: string;
  delivered_at: number;
  attempts: number;
}

export interface ConsumerRow {
  name: string;
  seen_at: number;
  active_at: number | null;
}

// Tasks a group holds: in flight and claimed through that group (the `grp` column).
const HELD = "queue = ?1 AND grp = ?2 AND status = 'in_flight'";
const PENDING_COLUMNS = "ms, seq, worker, delivered_at, attempts";

/** The SQL text of every statement, exported so a test can check each plan uses an index. */
export const CLAIM_SQL = {
  pendingByConsumer: `SELECT worker, count(*) AS n FROM tasks WHERE ${HELD} GROUP BY worker ORDER BY worker`,
  firstPending: `SELECT ms, seq FROM tasks WHERE ${HELD} ORDER BY ms, seq LIMIT 1`,
  lastPending: `SELECT ms, seq FROM tasks WHERE ${HELD} ORDER BY ms DESC, seq DESC LIMIT 1`,
  countPending: `SELECT count(*) AS n FROM tasks WHERE ${HELD}`,
  // ?3-?4 start, ?5-?6 end (inclusive), ?7 delivered at or before (min idle), ?8 count.
  pendingRange: `SELECT ${PENDING_COLUMNS} FROM tasks WHERE ${HELD}
    AND (ms, seq) >= (?3, ?4) AND (ms, seq) <= (?5, ?6) AND delivered_at <= ?7
    ORDER BY ms, seq LIMIT ?8`,
  // The same for one consumer, ?9.
  pendingRangeOf: `SELECT ${PENDING_COLUMNS} FROM tasks WHERE ${HELD} AND worker = ?9
    AND (ms, seq) >= (?3, ?4) AND (ms, seq) <= (?5, ?6) AND delivered_at <= ?7
    ORDER BY ms, seq LIMIT ?8`,
  // XCLAIM of one in-flight task. The holder re-claiming it (a heartbeat) and JUSTID keep the
  // delivery count; another consumer taking it over counts a new delivery ($inc: 0 on dead views).
  // SET expressions read the row's old values, so `worker = $worker` compares with the holder.
  claimPending: `UPDATE tasks SET worker = $worker, grp = $grp, lease_until = $lease, delivered_at = $delivered,
      attempts = CASE WHEN $retry IS NOT NULL THEN $retry
                      WHEN $justid OR worker = $worker THEN attempts ELSE attempts + $inc END
    WHERE queue = $queue AND ms = $ms AND seq = $seq AND status = 'in_flight'
      AND (grp = $grp OR $force) AND delivered_at <= $cutoff
    RETURNING ms, seq, fields, attempts, max_attempts`,
  // XCLAIM FORCE of a task nobody holds ($from: available, or dead on a dead view).
  claimWaiting: `UPDATE tasks SET status = 'in_flight', attempts = COALESCE($retry, attempts + $inc),
      worker = $worker, grp = $grp, lease_until = $lease, delivered_at = $delivered, finished_at = NULL
    WHERE queue = $queue AND ms = $ms AND seq = $seq AND status = $from
    RETURNING ms, seq, fields, attempts, max_attempts`,
  // XAUTOCLAIM's scan: the group's in-flight tasks from ?3-?4 on, oldest first, ?5 at most.
  autoclaimScan: `SELECT ms, seq, delivered_at FROM tasks WHERE ${HELD} AND (ms, seq) >= (?3, ?4)
    ORDER BY ms, seq LIMIT ?5`,
  // XGROUP DELCONSUMER: the consumer's tasks go back ($back: available, or dead on a dead view)
  // and the withdrawn delivery is not counted ($giveBack 1, or 0 where claims count none).
  releaseConsumer: `UPDATE tasks SET status = $back, attempts = max(attempts - $giveBack, 0),
      lease_until = NULL, finished_at = $now, last_error = $reason
    WHERE queue = $queue AND grp = $grp AND worker = $worker AND status = 'in_flight'`,
  // XINFO GROUPS' last-delivered-id: the newest task with status ?2 (in_flight or done).
  newestWithStatus: "SELECT ms, seq FROM tasks WHERE queue = ?1 AND status = ?2 ORDER BY ms DESC, seq DESC LIMIT 1",
  // Consumers are recorded under the queue's name, also for its dead view.
  consumersOf: "SELECT name, seen_at, active_at FROM consumers WHERE queue = ?1 AND grp = ?2 ORDER BY name",
  countConsumers: "SELECT count(*) AS n FROM consumers WHERE queue = ?1 AND grp = ?2",
  insertConsumer: `INSERT INTO consumers (queue, grp, name, seen_at, active_at) VALUES (?1, ?2, ?3, ?4, NULL)
    ON CONFLICT (queue, grp, name) DO NOTHING`,
  deleteConsumer: "DELETE FROM consumers WHERE queue = ?1 AND grp = ?2 AND name = ?3",
  // Seen-times polls left in memory (queue/seen.ts): looked up once, written in a turn that writes anyway.
  consumerSeen: "SELECT seen_at FROM consumers WHERE queue = ?1 AND grp = ?2 AND name = ?3",
  saveSeen: "UPDATE consumers SET seen_at = max(seen_at, ?4) WHERE queue = ?1 AND grp = ?2 AND name = ?3",
  deleteGroupConsumers: "DELETE FROM consumers WHERE queue = ?1 AND grp = ?2",
  deleteGroup: "DELETE FROM groups WHERE queue = ?1 AND name = ?2",
} as const;

export function prepareClaims(db: Database) {
  const q = <T = unknown>(sql: string) => db.query<T, any>(sql);
  return {
    pendingByConsumer: q<{ worker: string; n: number }>(CLAIM_SQL.pendingByConsumer),
    firstPending: q<{ ms: number; seq: number }>(CLAIM_SQL.firstPending),
    lastPending: q<{ ms: number; seq: number }>(CLAIM_SQL.lastPending),
    countPending: q<{ n: number }>(CLAIM_SQL.countPending),
    pendingRange: q<PendingRow>(CLAIM_SQL.pendingRange),
    pendingRangeOf: q<PendingRow>(CLAIM_SQL.pendingRangeOf),
    claimPending: q<TaskRow>(CLAIM_SQL.claimPending),
    claimWaiting: q<TaskRow>(CLAIM_SQL.claimWaiting),
    autoclaimScan: q<{ ms: number; seq: number; delivered_at: number }>(CLAIM_SQL.autoclaimScan),
    releaseConsumer: q(CLAIM_SQL.releaseConsumer),
    newestWithStatus: q<{ ms: number; seq: number }>(CLAIM_SQL.newestWithStatus),
    consumersOf: q<ConsumerRow>(CLAIM_SQL.consumersOf),
    countConsumers: q<{ n: number }>(CLAIM_SQL.countConsumers),
    insertConsumer: q(CLAIM_SQL.insertConsumer),
    deleteConsumer: q(CLAIM_SQL.deleteConsumer),
    consumerSeen: q<{ seen_at: number }>(CLAIM_SQL.consumerSeen),
    saveSeen: q(CLAIM_SQL.saveSeen),
    deleteGroupConsumers: q(CLAIM_SQL.deleteGroupConsumers),
    deleteGroup: q(CLAIM_SQL.deleteGroup),
  };
}

export type ClaimStatements = ReturnType<typeof prepareClaims>;
