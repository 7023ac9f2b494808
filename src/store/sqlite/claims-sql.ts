// Statements for pending entries (XPENDING), claims (XCLAIM, XAUTOCLAIM) and group/consumer
// inspection. Reads of in-flight tasks walk the partial index task_held (key, grp, ms, seq),
// which holds only tasks in flight: a group's pending list in id order.
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
const HELD = "key = ?1 AND grp = ?2 AND status = 1";
const PENDING_COLUMNS = "ms, seq, worker, delivered_at, attempts";

/** The SQL text of every statement, exported so a test can check each plan uses an index. */
export const CLAIM_SQL = {
  pendingByConsumer: `SELECT worker, count(*) AS n FROM task_state INDEXED BY task_held WHERE ${HELD} GROUP BY worker ORDER BY worker`,
  firstPending: `SELECT ms, seq FROM task_state INDEXED BY task_held WHERE ${HELD} ORDER BY ms, seq LIMIT 1`,
  lastPending: `SELECT ms, seq FROM task_state INDEXED BY task_held WHERE ${HELD} ORDER BY ms DESC, seq DESC LIMIT 1`,
  countPending: `SELECT count(*) AS n FROM task_state INDEXED BY task_held WHERE ${HELD}`,
  // ?3-?4 start, ?5-?6 end (inclusive), ?7 delivered at or before (min idle), ?8 count.
  pendingRange: `SELECT ${PENDING_COLUMNS} FROM task_state INDEXED BY task_held WHERE ${HELD}
    AND (ms, seq) >= (?3, ?4) AND (ms, seq) <= (?5, ?6) AND delivered_at <= ?7
    ORDER BY ms, seq LIMIT ?8`,
  // The same for one consumer, ?9.
  pendingRangeOf: `SELECT ${PENDING_COLUMNS} FROM task_state INDEXED BY task_held WHERE ${HELD} AND worker = ?9
    AND (ms, seq) >= (?3, ?4) AND (ms, seq) <= (?5, ?6) AND delivered_at <= ?7
    ORDER BY ms, seq LIMIT ?8`,
  // XCLAIM of one in-flight task. The holder re-claiming it (a heartbeat) and JUSTID keep the
  // delivery count; another consumer taking it over counts a new delivery ($inc: 0 on dead views).
  // SET expressions read the row's old values, so `worker = $worker` compares with the holder.
  claimPending: `UPDATE task_state SET worker = $worker, grp = $grp, lease_until = $lease, delivered_at = $delivered,
      attempts = CASE WHEN $retry IS NOT NULL THEN $retry
                      WHEN $justid OR worker = $worker THEN attempts ELSE attempts + $inc END
    WHERE key = $key AND ms = $ms AND seq = $seq AND status = 1
      AND (grp = $grp OR $force) AND delivered_at <= $cutoff
    RETURNING ms, seq, attempts, max_attempts`,
  // XCLAIM FORCE of a task nobody holds ($from: 0 available, or 3 dead on a dead view).
  claimWaiting: `UPDATE task_state SET status = 1, attempts = COALESCE($retry, attempts + $inc),
      worker = $worker, grp = $grp, lease_until = $lease, delivered_at = $delivered, finished_at = NULL
    WHERE key = $key AND ms = $ms AND seq = $seq AND status = $from
    RETURNING ms, seq, attempts, max_attempts`,
  // The payload of a task just taken over (RETURNING cannot join it): ?1 queue id.
  fieldsOf: "SELECT fields FROM task_payloads WHERE queue_id = ?1 AND ms = ?2 AND seq = ?3",
  // XAUTOCLAIM's scan: the group's in-flight tasks from ?3-?4 on, oldest first, ?5 at most.
  autoclaimScan: `SELECT ms, seq, delivered_at FROM task_state INDEXED BY task_held WHERE ${HELD} AND (ms, seq) >= (?3, ?4)
    ORDER BY ms, seq LIMIT ?5`,
  // XGROUP DELCONSUMER: the consumer's tasks go back ($back: available, or dead on a dead view)
  // and the withdrawn delivery is not counted ($giveBack 1, or 0 where claims count none).
  releaseConsumer: `UPDATE task_state INDEXED BY task_held SET status = $back, attempts = max(attempts - $giveBack, 0),
      lease_until = NULL, finished_at = $now, last_error = $reason
    WHERE key = $key AND grp = $grp AND worker = $worker AND status = 1
    RETURNING ms, seq`,
  // XINFO GROUPS' last-delivered-id: the newest task in flight (few, through task_held), or done
  // (no index by key: walks the key backwards to the newest done one).
  newestHeld: "SELECT ms, seq FROM task_state INDEXED BY task_held WHERE key = ?1 AND status = 1 ORDER BY ms DESC, seq DESC LIMIT 1",
  newestDone: "SELECT ms, seq FROM task_state WHERE key = ?1 AND status = 2 ORDER BY ms DESC, seq DESC LIMIT 1",
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
    claimPending: q<Omit<TaskRow, "fields">>(CLAIM_SQL.claimPending),
    claimWaiting: q<Omit<TaskRow, "fields">>(CLAIM_SQL.claimWaiting),
    fieldsOf: q<{ fields: string | Uint8Array }>(CLAIM_SQL.fieldsOf),
    autoclaimScan: q<{ ms: number; seq: number; delivered_at: number }>(CLAIM_SQL.autoclaimScan),
    releaseConsumer: q<{ ms: number; seq: number }>(CLAIM_SQL.releaseConsumer),
    newestHeld: q<{ ms: number; seq: number }>(CLAIM_SQL.newestHeld),
    newestDone: q<{ ms: number; seq: number }>(CLAIM_SQL.newestDone),
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
