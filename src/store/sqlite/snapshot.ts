// A consistent copy of a live ezra.db: VACUUM INTO from a read-only connection reads one
// snapshot (WAL lets the server keep writing meanwhile), then the copy is checked on its own.
import { Database } from "bun:sqlite";
import { StorageError } from "../driver.ts";
import { SCHEMA_VERSION } from "./driver.ts";

// How long the copy waits for a lock the server holds briefly (a checkpoint), in ms.
const BUSY_TIMEOUT_MS = 10_000;

export interface SnapshotFacts {
  schemaVersion: number;
  queues: number;
  tasks: number;
  /** Result of PRAGMA quick_check on the copy: "ok" when it is sound. */
  check: string;
}

/** Writes a copy of `dbPath` to `outPath` (which must not exist) and checks the copy. */
export function snapshot(dbPath: string, outPath: string): SnapshotFacts {
  const source = new Database(dbPath, { readonly: true });
  try {
    source.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const version = (source.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (version === 0 || version > SCHEMA_VERSION) {
      throw new StorageError("NOT_EZRA", `${dbPath} is not an ezra database this version can copy (schema version ${version})`);
    }
    source.query("VACUUM INTO ?1").run(outPath);
  } finally {
    source.close();
  }
  return inspectCopy(outPath);
}

/** Opens a finished copy read-only: schema version, counts, and SQLite's quick_check. */
export function inspectCopy(path: string): SnapshotFacts {
  const copy = new Database(path, { readonly: true });
  try {
    return {
      schemaVersion: (copy.query("PRAGMA user_version").get() as { user_version: number }).user_version,
      queues: (copy.query("SELECT count(*) AS n FROM queues").get() as { n: number }).n,
      tasks: (copy.query("SELECT count(*) AS n FROM tasks").get() as { n: number }).n,
      check: (copy.query("PRAGMA quick_check").get() as { quick_check: string }).quick_check,
    };
  } finally {
    copy.close();
  }
}
