// The SQLite driver's statements are planned the way they were measured: each reaches its
// table through its key or the partial index meant for it (schema.sql), and none walks a
// whole table. A schema or statement change that loses an index fails here, not in a
// benchmark weeks later.
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { CLAIM_SQL } from "../../src/store/sqlite/claims-sql.ts";
import { READ_SQL } from "../../src/store/sqlite/reads-sql.ts";
import schema from "../../src/store/sqlite/schema.sql" with { type: "text" };
import { TASK_SQL } from "../../src/store/sqlite/statements.ts";

const ALL_SQL: Record<string, string> = { ...TASK_SQL, ...CLAIM_SQL, ...READ_SQL };

/** Statement -> what its plan must contain. */
const INTENDED: Record<string, string> = {
  // The hot path: one keyed search each; claims take their ids from memory (waiting.ts).
  claimRow: "SEARCH task_state USING PRIMARY KEY (key=? AND ms=? AND seq=?)",
  ack: "SEARCH task_state USING PRIMARY KEY (key=? AND ms=? AND seq=?)",
  deleteInFlight: "SEARCH task_state USING PRIMARY KEY (key=? AND ms=? AND seq=?)",
  releaseToWaiting: "SEARCH task_state USING PRIMARY KEY (key=? AND ms=? AND seq=?)",
  releaseToDead: "SEARCH task_state USING PRIMARY KEY (key=? AND ms=? AND seq=?)",
  task: "SEARCH s USING PRIMARY KEY (key=? AND ms=? AND seq=?); CORRELATED SCALAR SUBQUERY 1; SEARCH p USING PRIMARY KEY (queue_id=? AND ms=? AND seq=?)",
  fieldsOf: "SEARCH task_payloads USING PRIMARY KEY (queue_id=? AND ms=? AND seq=?)",
  // The waiting order reads its ids a chunk at a time (waiting.ts).
  liveAfter: "SEARCH task_state USING PRIMARY KEY (key=? AND (ms,seq)>(?,?))",
  payloadSize: "SEARCH task_payloads USING PRIMARY KEY (queue_id=? AND ms=? AND seq=?)",
  // The payload comes by key with each task read.
  firstTask: "SEARCH p USING PRIMARY KEY (queue_id=? AND ms=? AND seq=?)",
  lastTask: "SEARCH p USING PRIMARY KEY (queue_id=? AND ms=? AND seq=?)",
  rangeForward: "SEARCH s USING PRIMARY KEY (key=? AND (ms,seq)>(?,?) AND (ms,seq)<(?,?))",
  rangeBackward: "SEARCH s USING PRIMARY KEY (key=? AND (ms,seq)>(?,?) AND (ms,seq)<(?,?))",
  releaseWithdrawn: "SEARCH task_state USING PRIMARY KEY (key=? AND ms=? AND seq=?)",
  claimPending: "SEARCH task_state USING PRIMARY KEY (key=? AND ms=? AND seq=?)",
  // Retention: one key's id range (retention.ts buckets), or the walk of a key after a start.
  purgeRange: "SEARCH task_state USING PRIMARY KEY (key=? AND ms>? AND ms<?)",
  walkKey: "SEARCH task_state USING PRIMARY KEY (key=? AND (ms,seq)>(?,?))",
  // TTL: due times from its partial index.
  nextExpiry: "USING COVERING INDEX task_expiry",
  expireTtl: "SEARCH task_state USING COVERING INDEX task_expiry (expires_at<?)",
  trimBelowId: "SEARCH task_state USING PRIMARY KEY (key=? AND (ms,seq)<(?,?))",
};

/** Statements allowed to scan or sort, and why. */
const MAY_SCAN_OR_SORT: Record<string, RegExp> = {
  // XINFO's per-state counts: one key's rows, grouped by a handful of states.
  countByStatus: /^USE TEMP B-TREE FOR GROUP BY$/,
  // Read once at start-up (and after a rollback): every queue, and each key's live rows counted
  // in one walk of the table in key order (no sort).
  allQueues: /^SCAN queues$/,
  countAtStart: /^SCAN task_state$/,
};

function plan(db: Database, sql: string): string[] {
  return (db.query(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((row) => row.detail);
}

test("every statement uses its intended key or index, and none scans a table or sorts unless listed", () => {
  const db = new Database(":memory:");
  db.exec(schema);
  for (const [name, sql] of Object.entries(ALL_SQL)) {
    if (/^(BEGIN|COMMIT|ROLLBACK)$/.test(sql)) continue;
    // The push INSERTs are written with one row group per task (driver.ts): plan one.
    const detail = plan(db, sql.endsWith("VALUES") ? `${sql} (?, ?, ?, ?, ?)` : sql);
    if (INTENDED[name]) expect({ name, detail: detail.join("; ") }).toEqual({ name, detail: expect.stringContaining(INTENDED[name]) });
    const allowed = MAY_SCAN_OR_SORT[name];
    // SCAN of a subquery's own result or a constant row is no table walk.
    const walks = detail.filter((d) => /^SCAN (?!CONSTANT ROW|\(subquery)|TEMP B-TREE/.test(d) && !allowed?.test(d));
    expect({ name, walks }).toEqual({ name, walks: [] });
  }
  db.close();
});

test("the check can fail: without task_expiry, the ttl sweep walks the whole table", () => {
  const db = new Database(":memory:");
  db.exec(schema);
  db.exec("DROP INDEX task_expiry");
  expect(plan(db, TASK_SQL.expireTtl).join("; ")).toContain("SCAN task_state");
  db.close();
});

test("the tasks view reads as the docs say: names, states and times spelled out", () => {
  const db = new Database(":memory:");
  db.exec(schema);
  db.exec("INSERT INTO queues (id, name, created_at) VALUES (7, 'emails', 0)");
  db.exec("INSERT INTO task_payloads VALUES (7, 1700000000000, 0, 1700000000000, '[\"to\",\"a@b.c\"]')");
  db.exec("INSERT INTO task_state (key, ms, seq, status, attempts, worker) VALUES (15, 1700000000000, 0, 3, 5, 'w1')");
  const row = db.query("SELECT queue, id, status, fields, attempts, worker, created FROM tasks").get();
  expect(row).toEqual({
    queue: "emails::dead",
    id: "1700000000000-0",
    status: "dead",
    fields: '["to","a@b.c"]',
    attempts: 5,
    worker: "w1",
    created: "2023-11-14T22:13:20.000Z",
  });
  // Deleting the state row takes its payload with it (task_state_gone).
  db.exec("DELETE FROM task_state");
  expect(db.query("SELECT count(*) AS n FROM task_payloads").get()).toEqual({ n: 0 });
  db.close();
});
