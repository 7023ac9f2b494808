// Statements for claims of held or waiting tasks (XCLAIM, XAUTOCLAIM) and for groups and
// consumers. Which tasks a group holds is kept in memory (held.ts), not read from here.
import type { Database } from "bun:sqlite";
import type { TaskRow } from "./statements.ts";

export interface ConsumerRow {
  name: string;
  seen_at: number;
  active_at: number | null;
}

/** The SQL text of every statement, exported so a test can check each plan uses an index. */
export const CLAIM_SQL = {
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
  // XINFO GROUPS' last-delivered-id when nothing is in flight: the newest done task (no index
  // by state: walks the key backwards to it).
  newestDone: "SELECT ms, seq FROM task_state WHERE key = ?1 AND status = 2 ORDER BY ms DESC, seq DESC LIMIT 1",
  // Consumers are recorded under the queue's name, also for its dead view.
  consumersOf: "SELECT name, seen_at, active_at FROM consumers WHERE queue = ?1 AND grp = ?2 ORDER BY name",
  countConsumers: "SELECT count(*) AS n FROM consumers WHERE queue = ?1 AND grp = ?2",
  insertConsumer: `INSERT INTO consumers (queue, grp, name, seen_at, active_at) VALUES (?1, ?2, ?3, ?4, NULL)
    ON CONFLICT (queue, grp, name) DO NOTHING`,
  deleteConsumer: "DELETE FROM consumers WHERE queue = ?1 AND grp = ?2 AND name = ?3",
  // Seen-times polls left in memory (queue/seen.ts): looked up once, written in a turn that writes anyway.
  consumerSeen: "SELECT seen_at FROM consumers WHERE queue = ?1 AND grp = ?2 AND name = ?3",
  saveSeen: `UPDATE consumers SET seen_at = max(seen_at, ?4),
      active_at = CASE WHEN ?5 IS NULL THEN active_at ELSE max(COALESCE(active_at, 0), ?5) END
    WHERE queue = ?1 AND grp = ?2 AND name = ?3`,
  deleteGroupConsumers: "DELETE FROM consumers WHERE queue = ?1 AND grp = ?2",
  deleteGroup: "DELETE FROM groups WHERE queue = ?1 AND name = ?2",
} as const;

export function prepareClaims(db: Database) {
  const q = <T = unknown>(sql: string) => db.query<T, any>(sql);
  return {
    claimPending: q<Omit<TaskRow, "fields">>(CLAIM_SQL.claimPending),
    claimWaiting: q<Omit<TaskRow, "fields">>(CLAIM_SQL.claimWaiting),
    fieldsOf: q<{ fields: string | Uint8Array }>(CLAIM_SQL.fieldsOf),
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
