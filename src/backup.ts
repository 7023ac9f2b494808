// `ezra backup [--data-dir DIR] --out FILE`: a consistent online copy of DIR/ezra.db while the
// server runs (no ezra.lock needed). Written beside FILE, checked, synced, then linked into place.
import { existsSync, linkSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type ArgsDef, defineCommand } from "citty";
import { CliError, helpText, strict } from "./argv.ts";
import { ConfigError, defaultDataDir } from "./config.ts";
import { syncPath } from "./store/fsync.ts";
import { snapshot } from "./store/sqlite/snapshot.ts";

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

/**
 * Copies `dataDir`/ezra.db to `out`; reports each step through `say`. Throws BackupError.
 * `dataDirName` is how the dir was given (--data-dir, EZRA_DATA_DIR, or the default), for errors.
 */
export function backup(
  dataDirArg: string | undefined,
  outArg: string | undefined,
  say: (line: string) => void,
  dataDirName = "--data-dir",
): void {
  if (!dataDirArg) throw new BackupError("--data-dir: required (or set EZRA_DATA_DIR): the server's data directory", 2);
  if (!outArg) throw new BackupError("--out: required: the file to write the backup to", 2);
  const dataDir = resolve(dataDirArg);
  const dbPath = resolve(dataDir, "ezra.db");
  const out = resolve(outArg);
  if (!existsSync(dbPath)) throw new BackupError(`${dataDirName}: ${dbPath} does not exist`, 2);
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

let dataDirDefault: string;
try {
  dataDirDefault = defaultDataDir(process.env);
} catch {
  dataDirDefault = "none: give one";
}
const argsDef: ArgsDef = {
  "data-dir": { type: "string", valueHint: "DIR", description: `The server's data directory. Default ${dataDirDefault}. [EZRA_DATA_DIR]` },
  out: { type: "string", valueHint: "FILE", description: "File to write; must not exist yet. Required." },
  help: { type: "boolean", alias: "h", description: "Show this help." },
};
const meta = { name: "backup", description: "write a consistent copy of DIR/ezra.db to FILE, while the server runs." };

/** `ezra backup ...`: exit 0 with the copy written, 2 for a usage error, 1 if the copy failed. */
export const backupCommand = defineCommand({
  meta,
  args: argsDef,
  plugins: [strict("ezra backup")],
  run({ args }) {
    if (args.help) {
      const notes = ["Restore: put FILE as ezra.db in an empty data dir, then start ezra on that dir."];
      process.stdout.write(helpText(`ezra backup: ${meta.description}`, ["ezra backup [--data-dir DIR] --out FILE"], argsDef, notes));
      return;
    }
    // The same data dir the server would use: flag, else EZRA_DATA_DIR, else the default.
    const flag = args["data-dir"] as string | undefined;
    const env = process.env.EZRA_DATA_DIR;
    const name = flag !== undefined ? "--data-dir" : env !== undefined ? "EZRA_DATA_DIR" : "--data-dir (the default)";
    try {
      backup(flag ?? env ?? defaultDataDir(process.env), args.out as string | undefined, (line) => process.stdout.write(`ezra backup: ${line}\n`), name);
    } catch (err) {
      if (err instanceof BackupError) throw new CliError("ezra backup", err.message, err.exitCode);
      throw err instanceof ConfigError ? new CliError("ezra backup", err.message) : err;
    }
  },
});
