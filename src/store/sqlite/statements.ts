// The task statements of the SQLite driver, prepared once per connection: insert, deliver,
// ack, release, sweeps and counts over `task_state` and `task_payloads` (schema.sql).
// A task is filed under an integer key (queue id * 2, + 1 in its dead view) and its state is
// an integer code (STATUS); driver.ts turns names and state words into these.
import type { Database } from "bun:sqlite";
import type { Id, TaskState } from "../driver.ts";

export const STATUS: Record<TaskState, number> = { available: 0, in_flight: 1, done: 2, dead: 3 };
export const STATE_OF: TaskState[] = ["available", "in_flight", "done", "dead"];

/** A row as the task statements return it. */
export interface TaskRow extends Id {
  fields: string | Uint8Array;
  attempts: number;
  max_attempts: number | null;
}

export interface QueueRow {
  id: number;
  name: string;
  last_ms: number;
  last_seq: number;
  visibility_timeout_ms: number | null;
  max_attempts: number | null;
  retention_ms: number | null;
  entry_fields: string | null;
  entries_added: number;
  fields_bytes_max: number;
  max_deleted_ms: number;
  max_deleted_seq: number;
  created_at: number;
}

/** A task a sweep removed, with the key it was filed under and the state it was in. */
export interface RemovedRow extends Id {
  key: number;
  status: number;
}


// A task as read: its state row `s` and its payload (same queue id, key >> 1, same task id).
// A correlated subquery, not a JOIN: the JOIN planned the same keyed searches but ran ~10x
// slower per row in bun:sqlite (measured 25-27 us against 2.6 us for one task).
export const TASK_COLUMNS = `s.ms AS ms, s.seq AS seq,
  (SELECT p.fields FROM task_payloads p WHERE p.queue_id = s.key >> 1 AND p.ms = s.ms AND p.seq = s.seq) AS fields,
  s.attempts AS attempts, s.max_attempts AS max_attempts`;

// Effective max attempts for a task: its own override, else its queue's, else the default (?6).
const MAX_ATTEMPTS_SQL = "COALESCE(max_attempts, (SELECT q.max_attempts FROM queues q WHERE q.id = task_state.key >> 1), ?6)";
// A lease that ends (nack, expiry, restart): ?4 now, ?5 the reason (NULL keeps the last one).
const RELEASE_SET_SQL = `attempts = COALESCE(?7, attempts), worker = COALESCE(?9, worker), grp = COALESCE(?10, grp),
  delivered_at = COALESCE(?11, delivered_at), lease_until = NULL, finished_at = ?4, last_error = COALESCE(?5, last_error)`;

/** The SQL text of every statement, exported so a test can check the plans of the hot ones. */
export const TASK_SQL = {
  // IMMEDIATE: a turn that read first and wrote later failed with SQLITE_BUSY (no wait) when
  // the checkpoint thread restarted the WAL in between, which makes the read snapshot stale.
  begin: "BEGIN IMMEDIATE",
  commit: "COMMIT",
  rollback: "ROLLBACK",
  // Rows changed on this connection so far: tells a turn whether it has written anything yet.
  totalChanges: "SELECT total_changes() AS n",
  allQueues: "SELECT * FROM queues",
  insertQueue: "INSERT INTO queues (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET name = name RETURNING id",
  saveQueueIds:
    "UPDATE queues SET last_ms = ?2, last_seq = ?3, entries_added = ?4, fields_bytes_max = ?5, max_deleted_ms = ?6, max_deleted_seq = ?7 WHERE id = ?1",
  saveQueueSettings: "UPDATE queues SET visibility_timeout_ms = ?2, max_attempts = ?3, retention_ms = ?4, entry_fields = ?5 WHERE id = ?1",
  // At start and after a rollback: each key's live rows (waiting or in flight) and how many are
  // in flight. One walk of the table in key order, in SQLite.
  countAtStart: "SELECT key, count(*) AS n, sum(status = 1) AS held FROM task_state WHERE status <> 2 GROUP BY key",
  // The next live rows of one key after ?2-?3, in id order (waiting.ts reads its ids from here).
  liveAfter: "SELECT ms, seq, status FROM task_state WHERE key = ?1 AND (ms, seq) > (?2, ?3) AND status <> 2 ORDER BY ms, seq LIMIT ?4",
  // A task's payload size (claims of fat tasks are bounded by reply bytes): ?1 queue id.
  payloadSize: "SELECT length(CAST(fields AS BLOB)) AS bytes FROM task_payloads WHERE queue_id = ?1 AND ms = ?2 AND seq = ?3",
  // Pushes: multi-row INSERTs, each followed by one (?, ?, ?, ?, ?) per task (driver.ts writePushes).
  insertPayloads: "INSERT INTO task_payloads (queue_id, ms, seq, created_at, fields) VALUES",
  insertStates: "INSERT INTO task_state (key, ms, seq, max_attempts, expires_at) VALUES",
  // A claim of one task the waiting order named; changes nothing when that entry went stale.
  // Then `task` reads it back: UPDATE ... RETURNING measured 10 us against 5 + 2.6 for the pair.
  claimRow: `UPDATE task_state SET status = ?4, attempts = attempts + ?5, worker = ?6, grp = ?7, lease_until = ?8,
         delivered_at = ?9, finished_at = ?10, purge_at = ?11
       WHERE key = ?1 AND ms = ?2 AND seq = ?3 AND (status = 0 OR status = 3)`,
  task: `SELECT ${TASK_COLUMNS} FROM task_state s WHERE s.key = ?1 AND s.ms = ?2 AND s.seq = ?3`,
  // The same, only while it waits: a claim of an entry that may have gone stale (waiting.ts).
  waitingTask: `SELECT ${TASK_COLUMNS} FROM task_state s WHERE s.key = ?1 AND s.ms = ?2 AND s.seq = ?3 AND (s.status = 0 OR s.status = 3)`,
  // Writes a claim held in memory (held.ts): at once with --claim-write-delay 0, else by the
  // timer once it is older than the delay, and for XCLAIM.
  writeClaim: `UPDATE task_state SET status = 1, attempts = ?4, worker = ?5, grp = ?6, lease_until = ?7, delivered_at = ?8,
         finished_at = NULL WHERE key = ?1 AND ms = ?2 AND seq = ?3`,
  // An ack of a held task, written or not: the claim's columns come along (held.ts knows them).
  ack: `UPDATE task_state SET status = 2, attempts = ?4, worker = ?5, grp = ?6, delivered_at = ?7, lease_until = NULL,
         finished_at = ?8, purge_at = ?9 WHERE key = ?1 AND ms = ?2 AND seq = ?3`,
  deleteKeyed: "DELETE FROM task_state WHERE key = ?1 AND ms = ?2 AND seq = ?3",
  // A released task waits again under its key (dead-view tasks as dead) while attempts remain;
  // else releaseToDead moves it to the dead view's key. Two statements, since an UPDATE that may
  // change the key rewrites every row it touches as a delete and an insert (twice the time).
  // ?7: the attempts held in memory (NULL: the row's, for a task the last run left in flight,
  // which must still read in flight: ?8 0); ?9-?11 the holder, group and delivery time (NULL: kept).
  releaseToWaiting: `UPDATE task_state SET status = CASE WHEN key & 1 THEN 3 ELSE 0 END, ${RELEASE_SET_SQL}
       WHERE key = ?1 AND ms = ?2 AND seq = ?3 AND (status = 1 OR ?8) AND (key & 1 OR COALESCE(?7, attempts) < ${MAX_ATTEMPTS_SQL})`,
  releaseToDead: `UPDATE task_state SET status = 3, key = key | 1, ${RELEASE_SET_SQL}
       WHERE key = ?1 AND ms = ?2 AND seq = ?3 AND (status = 1 OR ?8) AND NOT key & 1`,
  // XGROUP DELCONSUMER: a task back to waiting (?4 available, or 3 dead on a dead view), its
  // withdrawn delivery uncounted (?5 attempts).
  releaseWithdrawn: `UPDATE task_state SET status = ?4, attempts = ?5, worker = ?6, grp = ?7, delivered_at = ?8,
      lease_until = NULL, finished_at = ?9, last_error = ?10
    WHERE key = ?1 AND ms = ?2 AND seq = ?3`,
  deleteTask: "DELETE FROM task_state WHERE key = ?1 AND ms = ?2 AND seq = ?3 RETURNING status",
  taskStatus: "SELECT status FROM task_state WHERE key = ?1 AND ms = ?2 AND seq = ?3",
  // Retention: the due done tasks of one key among ids ?2-?3 (by ms), at most ?5 (retention.ts).
  purgeRange: `DELETE FROM task_state WHERE (key, ms, seq) IN
         (SELECT key, ms, seq FROM task_state WHERE key = ?1 AND ms >= ?2 AND ms <= ?3 AND status = 2 AND purge_at <= ?4 LIMIT ?5)`,
  // Retention's walk of a key not bucketed yet (after a start): the next ?4 rows after ?2-?3, any state.
  walkKey: "SELECT ms, seq, status, purge_at FROM task_state WHERE key = ?1 AND (ms, seq) > (?2, ?3) ORDER BY ms, seq LIMIT ?4",
  expireTtl: `DELETE FROM task_state WHERE (key, ms, seq) IN
         (SELECT key, ms, seq FROM task_state WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)
       RETURNING key, ms, seq, status`,
  nextExpiry: "SELECT min(expires_at) AS t FROM task_state WHERE expires_at IS NOT NULL",
  // Done tasks have no index by key: XINFO's per-state counts walk the key's rows.
  countByStatus: "SELECT status, count(*) AS n FROM task_state WHERE key = ?1 GROUP BY status",
  firstTask: `SELECT ${TASK_COLUMNS} FROM task_state s WHERE s.key = ?1 ORDER BY s.ms, s.seq LIMIT 1`,
  lastTask: `SELECT ${TASK_COLUMNS} FROM task_state s WHERE s.key = ?1 ORDER BY s.ms DESC, s.seq DESC LIMIT 1`,
  // XADD/XTRIM MAXLEN: drop the oldest entries beyond ?2, at most ?3 of them.
  trimToLength: `DELETE FROM task_state WHERE (key, ms, seq) IN (SELECT key, ms, seq FROM task_state WHERE key = ?1 ORDER BY ms, seq
         LIMIT min(?3, max(0, (SELECT count(*) FROM task_state WHERE key = ?1) - ?2)))
       RETURNING ms, seq, status`,
  // XADD/XTRIM MINID: drop entries with ids below (?2, ?3), at most ?4 of them.
  trimBelowId: `DELETE FROM task_state WHERE (key, ms, seq) IN (SELECT key, ms, seq FROM task_state WHERE key = ?1
         AND (ms, seq) < (?2, ?3) ORDER BY ms, seq LIMIT ?4)
       RETURNING ms, seq, status`,
  insertGroup: "INSERT INTO groups (queue, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
  groupsOf: "SELECT name, created_at FROM groups WHERE queue = ?1 ORDER BY name",
  touchConsumer: `INSERT INTO consumers (queue, grp, name, seen_at, active_at) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (queue, grp, name) DO UPDATE SET seen_at = ?4, active_at = COALESCE(?5, active_at)`,
} as const;

export function prepareAll(db: Database) {
  const q = <T = unknown>(sql: string) => db.query<T, any>(sql);
  return {
    begin: q(TASK_SQL.begin),
    commit: q(TASK_SQL.commit),
    rollback: q(TASK_SQL.rollback),
    totalChanges: q<{ n: number }>(TASK_SQL.totalChanges),
    allQueues: q<QueueRow>(TASK_SQL.allQueues),
    insertQueue: q<{ id: number }>(TASK_SQL.insertQueue),
    saveQueueIds: q(TASK_SQL.saveQueueIds),
    saveQueueSettings: q(TASK_SQL.saveQueueSettings),
    countAtStart: q<{ key: number; n: number; held: number }>(TASK_SQL.countAtStart),
    liveAfter: q<{ ms: number; seq: number; status: number }>(TASK_SQL.liveAfter),
    payloadSize: q<{ bytes: number }>(TASK_SQL.payloadSize),
    claimRow: q(TASK_SQL.claimRow),
    task: q<TaskRow>(TASK_SQL.task),
    waitingTask: q<TaskRow>(TASK_SQL.waitingTask),
    writeClaim: q(TASK_SQL.writeClaim),
    ack: q(TASK_SQL.ack),
    deleteKeyed: q(TASK_SQL.deleteKeyed),
    releaseToWaiting: q(TASK_SQL.releaseToWaiting),
    releaseToDead: q(TASK_SQL.releaseToDead),
    releaseWithdrawn: q(TASK_SQL.releaseWithdrawn),
    deleteTask: q<{ status: number }>(TASK_SQL.deleteTask),
    taskStatus: q<{ status: number }>(TASK_SQL.taskStatus),
    purgeRange: q(TASK_SQL.purgeRange),
    walkKey: q<{ ms: number; seq: number; status: number; purge_at: number | null }>(TASK_SQL.walkKey),
    expireTtl: q<RemovedRow>(TASK_SQL.expireTtl),
    nextExpiry: q<{ t: number | null }>(TASK_SQL.nextExpiry),
    countByStatus: q<{ status: number; n: number }>(TASK_SQL.countByStatus),
    firstTask: q<TaskRow>(TASK_SQL.firstTask),
    lastTask: q<TaskRow>(TASK_SQL.lastTask),
    trimToLength: q<{ ms: number; seq: number; status: number }>(TASK_SQL.trimToLength),
    trimBelowId: q<{ ms: number; seq: number; status: number }>(TASK_SQL.trimBelowId),
    insertGroup: q(TASK_SQL.insertGroup),
    groupsOf: q<{ name: string; created_at: number }>(TASK_SQL.groupsOf),
    touchConsumer: q(TASK_SQL.touchConsumer),
  };
}

export type Statements = ReturnType<typeof prepareAll>;
