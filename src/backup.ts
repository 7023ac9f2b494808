// `ezra backup --data-dir DIR --out FILE`: a consistent online copy of DIR/ezra.db while the
// server runs (no ezra.lock needed). Written beside FILE, checked, synced, then linked into place.
import { closeSync, existsSync, fsyncSync, linkSync, openSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defineCommand } from "citty";
import { snapshot } from "./store/snapshot.ts";

export class BackupError extends Error {
  constructor(
    message: string,
    /** 2: a usage error (bad flag value); 1: the copy itself failed. */
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

const MiB = 1024 * 1024;
const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0);
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Copies `dataDir`/ezra.db to `out`; reports each step through `say`. Throws BackupError. */
export function backup(dataDirArg: string | undefined, outArg: string | undefined, say: (line: string) => void): void {
  if (!dataDirArg) throw new BackupError("--data-dir: required (or set EZRA_DATA_DIR): the server's data directory", 2);
  if (!outArg) throw new BackupError("--out: required: the file to write the backup to", 2);
  const dataDir = resolve(dataDirArg);
  const dbPath = resolve(dataDir, "ezra.db");
  const out = resolve(outArg);
  if (!existsSync(dbPath)) throw new BackupError(`--data-dir: ${dbPath} does not exist`, 2);
  if (existsSync(out)) throw new BackupError(`--out: ${out} already exists; refusing to overwrite it`, 2);
  if (!existsSync(dirname(out)) || !statSync(dirname(out)).isDirectory()) {
    throw new BackupError(`--out: directory ${dirname(out)} does not exist`, 2);
  }
  const partial = `${out}.partial-${process.pid}`;
  const started = Date.now();
  say(`copying ${dbPath} (${mib(sizeOf(dbPath))} + ${mib(sizeOf(`${dbPath}-wal`))} WAL) to ${out}`);
  try {
    const facts = snapshot(dbPath, partial);
    if (facts.check !== "ok") throw new Error(`the copy failed SQLite's quick_check: ${facts.check}`);
    syncPath(partial);
    linkSync(partial, out); // unlike rename, fails if FILE appeared meanwhile
    syncPath(dirname(out));
    say(
      `wrote ${out}: ${mib(sizeOf(out))}, ${facts.tasks} tasks in ${facts.queues} queues, ` +
        `schema version ${facts.schemaVersion}, quick_check ok, ${Date.now() - started} ms`,
    );
    say(`restore: put it as ezra.db in an empty data dir, e.g. mkdir NEW && cp ${out} NEW/ezra.db && ezra --data-dir NEW`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new BackupError(`--out: ${out} appeared during the backup; refusing to overwrite it`, 2);
    throw new BackupError(`backup failed: ${(err as Error).message}`, 1);
  } finally {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(partial + suffix, { force: true });
  }
}

export const backupCommand = defineCommand({
  meta: { name: "backup", description: "Write a consistent copy of DIR/ezra.db to FILE, while the server runs." },
  args: {
    "data-dir": { type: "string", description: "The server's data directory [EZRA_DATA_DIR]." },
    out: { type: "string", description: "File to write; must not exist yet." },
  },
  run({ args, rawArgs }) {
    // citty ignores what it does not know; a typo here must not go unnoticed.
    const stray = rawArgs.find((a, i) => !a.startsWith("-") && !["--data-dir", "--out"].includes(rawArgs[i - 1]));
    const unknown = rawArgs.find((a) => a.startsWith("-") && !/^--(data-dir|out)(=|$)/.test(a));
    if (stray || unknown) {
      process.stderr.write(`ezra backup: ${unknown ? `${unknown.split("=")[0]}: unknown flag` : `unexpected argument '${stray}'`} (see ezra backup --help)\n`);
      process.exit(2);
    }
    try {
      backup((args["data-dir"] as string | undefined) ?? process.env.EZRA_DATA_DIR, args.out as string | undefined, (line) =>
        process.stdout.write(`ezra backup: ${line}\n`),
      );
    } catch (err) {
      if (!(err instanceof BackupError)) throw err;
      process.stderr.write(`ezra backup: ${err.message}\n`);
      process.exit(err.exitCode);
    }
  },
});
