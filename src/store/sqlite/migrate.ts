// Brings ezra.db to the current schema (schema.sql) by PRAGMA user_version: a new file gets it
// whole; a version 1 file (one `tasks` table, text states, five indexes; migrations/v1.sql) is
// rewritten in place inside one transaction, so a kill at any moment leaves either the old
// file or the new one, never a mix. Large files report progress as they go. A version 2 file
// (schema 3 plus the partial indexes task_held and task_done, less queues.entry_fields) loses
// those two indexes and gains that column.
import type { Database } from "bun:sqlite";
import { StorageError } from "../driver.ts";
import schema from "./schema.sql" with { type: "text" };

export const SCHEMA_VERSION = 3;

/** Tasks copied per statement while migrating: small enough for a progress line every second or so. */
const MIGRATION_CHUNK_ROWS = 100_000;

export function migrate(db: Database, path: string, progress: (line: string) => void): void {
  let version: number;
  try {
    version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (version === 0) {
      const tables = db.query("SELECT count(*) AS n FROM sqlite_master").get() as { n: number };
      if (tables.n > 0) throw new StorageError("NOT_EZRA", `${path} is not an ezra database (it has tables but no ezra schema version)`);
    }
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError("UNREADABLE", `${path} cannot be read as an SQLite database: ${(err as Error).message}`);
  }
  if (version > SCHEMA_VERSION) {
    throw new StorageError("NEWER_SCHEMA", `${path} has schema version ${version}, newer than this ezra (${SCHEMA_VERSION}); upgrade ezra`);
  }
  if (version === 0) {
    db.transaction(() => {
      db.exec(schema);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    })();
  } else if (version === 1) {
    migrateV1(db, path, progress);
  } else if (version === 2) {
    // Dropping an index only frees its pages: quick whatever the file's size.
    db.transaction(() => {
      db.exec("DROP INDEX IF EXISTS task_held");
      db.exec("DROP INDEX IF EXISTS task_done");
      db.exec("ALTER TABLE queues ADD COLUMN entry_fields TEXT");
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    })();
  }
}

// The queue a v1 task belongs to: dead tasks were filed under "<queue>::dead".
const V1_BASE = "CASE WHEN t.queue LIKE '%::dead' THEN substr(t.queue, 1, length(t.queue) - 6) ELSE t.queue END";
const V1_DEAD = "(CASE WHEN t.queue LIKE '%::dead' THEN 1 ELSE 0 END)";
const V1_STATUS = "CASE t.status WHEN 'available' THEN 0 WHEN 'in_flight' THEN 1 WHEN 'done' THEN 2 ELSE 3 END";

function migrateV1(db: Database, path: string, progress: (line: string) => void): void {
  const total = (db.query("SELECT count(*) AS n FROM tasks").get() as { n: number }).n;
  const started = performance.now();
  const say = (done: number) =>
    progress(`migrating ${path} to schema ${SCHEMA_VERSION}: ${done.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} tasks (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  if (total >= MIGRATION_CHUNK_ROWS) say(0);
  db.transaction(() => {
    for (const table of ["queues", "groups", "consumers", "tasks"]) db.exec(`ALTER TABLE ${table} RENAME TO v1_${table}`);
    for (const index of ["tasks_by_id", "tasks_by_status", "tasks_lease", "tasks_purge", "tasks_expiry"]) db.exec(`DROP INDEX IF EXISTS ${index}`);
    db.exec(schema);
    db.exec(`INSERT INTO queues (id, name, last_ms, last_seq, visibility_timeout_ms, max_attempts, retention_ms, entries_added, fields_bytes_max, created_at)
      SELECT rowid, name, last_ms, last_seq, visibility_timeout_ms, max_attempts, retention_ms, entries_added, fields_bytes_max, created_at FROM v1_queues`);
    // A task whose queue row is missing would be lost by the joins below: give it a queue.
    db.exec(`INSERT INTO queues (name, created_at)
      SELECT DISTINCT ${V1_BASE}, 0 FROM v1_tasks t WHERE ${V1_BASE} NOT IN (SELECT name FROM queues)`);
    db.exec("INSERT INTO groups SELECT queue, name, created_at FROM v1_groups");
    db.exec("INSERT INTO consumers SELECT queue, grp, name, seen_at, active_at FROM v1_consumers");
    const copyPayloads = db.query(`INSERT INTO task_payloads (queue_id, ms, seq, created_at, fields)
      SELECT q.id, t.ms, t.seq, t.created_at, t.fields FROM v1_tasks t JOIN queues q ON q.name = ${V1_BASE}
      WHERE t.rowid > ?1 AND t.rowid <= ?2`);
    const copyState = db.query(`INSERT INTO task_state (key, ms, seq, status, attempts, max_attempts, worker, grp,
        lease_until, delivered_at, finished_at, purge_at, expires_at, last_error)
      SELECT q.id * 2 + ${V1_DEAD}, t.ms, t.seq, ${V1_STATUS}, t.attempts, t.max_attempts, t.worker, t.grp,
        t.lease_until, t.delivered_at, t.finished_at, t.purge_at, t.expires_at, t.last_error
      FROM v1_tasks t JOIN queues q ON q.name = ${V1_BASE}
      WHERE t.rowid > ?1 AND t.rowid <= ?2`);
    const maxRowid = (db.query("SELECT max(rowid) AS m FROM v1_tasks").get() as { m: number | null }).m ?? 0;
    let copied = 0;
    let lastReport = performance.now();
    for (let from = 0; from < maxRowid; from += MIGRATION_CHUNK_ROWS) {
      copyPayloads.run(from, from + MIGRATION_CHUNK_ROWS);
      copied += copyState.run(from, from + MIGRATION_CHUNK_ROWS).changes;
      if (performance.now() - lastReport >= 1000) {
        say(copied);
        lastReport = performance.now();
      }
    }
    if (copied !== total) {
      throw new StorageError("FAILED", `migrating ${path}: copied ${copied} of ${total} tasks; the file is left at schema 1`);
    }
    for (const table of ["v1_tasks", "v1_consumers", "v1_groups", "v1_queues"]) db.exec(`DROP TABLE ${table}`);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  })();
  if (total >= MIGRATION_CHUNK_ROWS) say(total);
}
