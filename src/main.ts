#!/usr/bin/env bun
// The `ezra` command line: runs the server, or `ezra backup`. Settings come from flags > EZRA_*
// env > defaults; a bad one prints one line naming the flag or env var and exits with code 2.
// Help and errors are written here by hand, plain text, never coloured.
import { type FlagSpec, helpText, parseArgv } from "./argv.ts";
import { runBackup } from "./backup.ts";
import { ConfigError, DURATION_SYNTAX, OPTIONS, optionRows, resolveConfig } from "./config.ts";
import { startServer } from "./start.ts";
import { VERSION, versionLine } from "./version.ts";

export function exitWithUsageError(message: string): never {
  process.stderr.write(`ezra: ${message}\n`);
  process.exit(2);
}

function mainHelp(): string {
  return helpText({
    title: `ezra ${VERSION}: a persistent task queue speaking the Redis Streams protocol.`,
    usage: [
      "ezra [options]                              run the server",
      "ezra backup [--data-dir DIR] --out FILE     write a consistent copy of ezra.db, while the server runs",
    ],
    heading: "Options (a flag wins over its environment variable [EZRA_*], which wins over the default)",
    rows: [
      ...optionRows(process.env),
      { flag: "--help, -h", text: "Show this help." },
      { flag: "--version, -v", text: "Print the version, git commit and target." },
    ],
    notes: [
      `DURATION: ${DURATION_SYNTAX}.`,
      "Without --data-dir or EZRA_DATA_DIR, ezra uses the default data dir above and creates it if missing;",
      "a data dir you name must exist, unless --create-data-dir is given.",
      "Run `ezra backup --help` for the backup command.",
    ],
  });
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "backup") return runBackup(argv.slice(1));
  const specs: FlagSpec[] = OPTIONS.map((o) => ({ name: o.flag, value: !o.boolean }));
  const parsed = parseArgv(argv, specs, { version: true, command: "ezra" });
  if (parsed.help) {
    process.stdout.write(mainHelp());
    process.exit(0);
  }
  if (parsed.version) {
    process.stdout.write(`${versionLine()}\n`);
    process.exit(0);
  }
  if (parsed.error) exitWithUsageError(parsed.error);
  let config;
  try {
    config = resolveConfig(parsed.values, process.env);
  } catch (err) {
    if (err instanceof ConfigError) exitWithUsageError(err.message);
    throw err;
  }
  await startServer(config, VERSION);
}

await main(process.argv.slice(2));
