#!/usr/bin/env bun
// The `ezra` command line, on citty: `ezra` runs the server, `ezra backup` copies its database.
// citty reads the flags (defined from OPTIONS) and dispatches the subcommand; argv.ts adds what
// citty lacks: unknown flags and stray words are errors, help is plain text, never coloured.
// Settings come from flags > EZRA_* env > defaults; a bad one prints one line naming the flag or
// env var and exits 2. runCommand, not runMain: runMain prints coloured usage and exits 1 itself.
import { type ArgsDef, defineCommand, runCommand } from "citty";
import { CliError, helpText, strict } from "./argv.ts";
import { backupCommand } from "./backup.ts";
import { ConfigError, DURATION_SYNTAX, OPTIONS, optionRows, resolveConfig } from "./config.ts";
import { startServer } from "./start.ts";
import { VERSION, versionLine } from "./version.ts";

const rows = optionRows(process.env);
const argsDef: ArgsDef = {
  ...Object.fromEntries(
    OPTIONS.map((o, i) => [
      o.flag,
      o.boolean
        ? { type: "boolean", description: rows[i].text, negativeDescription: `Turn --${o.flag} off.` }
        : { type: "string", description: rows[i].text, valueHint: o.hint },
    ]),
  ),
  help: { type: "boolean", alias: "h", description: "Show this help." },
  version: { type: "boolean", alias: "v", description: "Print the version, git commit and target." },
};

const meta = { name: "ezra", version: VERSION, description: "a persistent task queue speaking the Redis Streams protocol." };

function help(): string {
  const usage = [
    "ezra [options]                              run the server",
    "ezra backup [--data-dir DIR] --out FILE     write a consistent copy of ezra.db, while the server runs",
  ];
  const notes = [
    `DURATION: ${DURATION_SYNTAX}.`,
    "Without --data-dir or EZRA_DATA_DIR, ezra uses the default data dir above and creates it if missing;",
    "a data dir you name must exist, unless --create-data-dir is given.",
    "Run `ezra backup --help` for the backup command.",
  ];
  return helpText(`ezra ${VERSION}: ${meta.description}`, usage, argsDef, notes);
}

const ezra = defineCommand({
  meta,
  args: argsDef,
  subCommands: { backup: backupCommand },
  plugins: [strict("ezra")],
  setup({ args, rawArgs }) {
    // Before citty looks for a subcommand: `ezra stray --help` is help, as `ezra --bogus --help` is.
    if (rawArgs[0] === "backup" || !(args.help || args.version)) return;
    process.stdout.write(args.help ? help() : `${versionLine()}\n`);
    process.exit(0);
  },
  async run({ args, rawArgs }) {
    if (rawArgs[0] === "backup") return; // citty runs the parent's run after the subcommand's
    await startServer(resolveConfig(args as Record<string, string | boolean | undefined>, process.env), VERSION);
  },
});

try {
  await runCommand(ezra, { rawArgs: process.argv.slice(2) });
} catch (err) {
  // One plain line and exit 2 (or 1). A ConfigError here is from the server's settings: backup words its own.
  const cli = err instanceof ConfigError ? new CliError("ezra", err.message) : err;
  if (!(cli instanceof CliError)) throw err;
  process.stderr.write(`${cli.command}: ${cli.message}\n`);
  process.exit(cli.exitCode);
}
