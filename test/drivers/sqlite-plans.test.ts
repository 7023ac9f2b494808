// The SQLite driver's task statements are planned the way they were measured: each reaches
// `tasks` through its intended index, none scans the table or sorts in a temporary b-tree.
// A schema or statement change that loses an index fails here, not in a benchmark weeks later.
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import schema from "../../src/store/sqlite/schema.sql" with { type: "text" };
import { TASK_SQL } from "../../src/store/sqlite/statements.ts";

/** Statement -> what its plan must say of `tasks` (INTEGER PRIMARY KEY: the rowid, the table's own key). */
const INTENDED: Partial<Record<keyof typeof TASK_SQL, string>> = {
  insertTask: "",
  claimableAny: "USING INDEX tasks_by_status",
  claimRow: "USING INTEGER PRIMARY KEY",
  nextSizes: "USING INDEX tasks_by_status",
  ownPending: "USING INDEX tasks_by_status",
  ack: "USING INDEX tasks_by_id",
  deleteInFlight: "USING INDEX tasks_by_id",
  release: "USING INDEX tasks_by_id",
  releaseExpired: "USING COVERING INDEX tasks_lease",
  deleteTask: "USING INDEX tasks_by_id",
  taskStatus: "USING INDEX tasks_by_id",
  purgeDone: "USING COVERING INDEX tasks_purge",
  expireTtl: "USING COVERING INDEX tasks_expiry",
  nextLease: "USING COVERING INDEX tasks_lease",
  nextPurge: "USING COVERING INDEX tasks_purge",
  nextExpiry: "USING COVERING INDEX tasks_expiry",
  countStatus: "USING COVERING INDEX tasks_by_status",
  countByStatus: "USING COVERING INDEX tasks_by_status",
  firstTask: "USING INDEX tasks_by_id",
  lastTask: "USING INDEX tasks_by_id",
  trimToLength: "USING COVERING INDEX tasks_by_id",
  trimBelowId: "USING COVERING INDEX tasks_by_id",
  // Runs once at start-up over in-flight tasks only: a walk of the partial lease index, not the table.
  releaseAllInFlight: "SCAN tasks USING INDEX tasks_lease",
};

function plan(db: Database, sql: string): string {
  return (db.query(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((row) => row.detail).join("; ");
}

test("every hot task statement uses its intended index, with no table scan or sort", () => {
  const db = new Database(":memory:");
  db.exec(schema);
  for (const [name, index] of Object.entries(INTENDED)) {
    const detail = plan(db, TASK_SQL[name as keyof typeof TASK_SQL]);
    if (index) expect({ name, detail }).toEqual({ name, detail: expect.stringContaining(index) });
    expect({ name, scansOrSorts: /SCAN tasks(?! USING INDEX tasks_lease)|TEMP B-TREE/.test(detail) }).toEqual({ name, scansOrSorts: false });
  }
  db.close();
});

test("the check can fail: without tasks_by_status the claim scans", () => {
  const db = new Database(":memory:");
  db.exec(schema);
  db.exec("DROP INDEX tasks_by_status");
  expect(plan(db, TASK_SQL.claimableAny)).not.toContain("USING INDEX tasks_by_status");
  db.close();
});
