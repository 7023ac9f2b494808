// The storage drivers the engine's tests run against. Each entry opens a fresh store in a data
// dir; a later driver (PostgreSQL) adds an entry here and the whole engine suite runs on it too.
import type { Driver } from "../../src/store/driver.ts";
import { openStorage } from "../../src/store/open.ts";

export interface DriverUnderTest {
  name: string;
  /** `claimWriteDelayMs`: how long claims live in memory only (0: written in their turn). */
  open(dataDir: string, claimWriteDelayMs?: number): Driver;
  /** The store is an SQLite file ezra.db in the data dir, readable with bun:sqlite. */
  sqliteFile: boolean;
}

export const DRIVERS: DriverUnderTest[] = [
  { name: "sqlite", open: (dataDir, claimWriteDelayMs) => openStorage({ dataDir, durability: "normal", claimWriteDelayMs }), sqliteFile: true },
];
