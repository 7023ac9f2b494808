// Picks and opens the storage driver for a data dir: the one place the engine's callers name a
// database. SQLite is the only driver today; a later one (PostgreSQL) is chosen here too.
import type { Driver, Durability } from "./driver.ts";
import { SqliteDriver } from "./sqlite/driver.ts";

export interface StorageOptions {
  dataDir: string;
  durability: Durability;
  /** How long a claim may live in memory only before it is written; default 1 s. */
  claimWriteDelayMs?: number;
  /** Lines about long start-up work (a schema migration), for the server's log. */
  progress?: (line: string) => void;
}

export function openStorage(options: StorageOptions): Driver {
  return new SqliteDriver(options.dataDir, options.durability, options.progress, options.claimWriteDelayMs);
}
