// Checks a data dir before ezra opens it for writing: the dir must be writable, and an existing
// ezra.db must be an SQLite file with ezra's schema. It only reads, so a file it rejects is
// left byte-identical (opening a foreign WAL database read-write would checkpoint it on close).
import { Database } from "bun:sqlite";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { StorageError } from "../driver.ts";

/** Throws when ezra could not create or write ezra.db, its -wal/-shm files, or ezra.lock here. */
export function checkWritable(dataDir: string, dbPath: string): void {
  try {
    accessSync(dataDir, constants.W_OK);
    if (existsSync(dbPath)) accessSync(dbPath, constants.R_OK | constants.W_OK);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "EROFS" ? "on a read-only file system" : "not writable by this user";
    throw new StorageError(
      "NOT_WRITABLE",
      `${(err as NodeJS.ErrnoException).path ?? dataDir} is ${reason}: ezra writes ezra.db and its -wal/-shm files there`,
    );
  }
}

/** Reads the schema version of an existing ezra.db through a read-only connection. */
export function inspectExisting(dbPath: string, schemaVersion: number): void {
  if (!existsSync(dbPath) || statSync(dbPath).size === 0) return; // a new database
  let db: Database | null = null;
  let version: number;
  let tables: number;
  try {
    db = new Database(dbPath, { readonly: true });
    version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    tables = (db.query("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n;
  } catch (err) {
    throw new StorageError("UNREADABLE", `${dbPath} cannot be read as an SQLite database: ${(err as Error).message}`);
  } finally {
    db?.close();
  }
  if (version === 0 && tables > 0) {
    throw new StorageError("NOT_EZRA", `${dbPath} is not an ezra database (it has tables but no ezra schema version); move it away or use another --data-dir`);
  }
  if (version > schemaVersion) {
    throw new StorageError("NEWER_SCHEMA", `${dbPath} has schema version ${version}, newer than this ezra (${schemaVersion}); upgrade ezra`);
  }
}
