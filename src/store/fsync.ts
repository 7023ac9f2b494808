// fsync of a file or directory by path: a new name survives a power cut only once its
// directory is synced. Shared by the SQLite driver (its data dir) and `ezra backup` (the copy).
import { closeSync, fsyncSync, openSync } from "node:fs";

export function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
