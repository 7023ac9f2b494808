#!/usr/bin/env bun
// The `ezra` command line (citty): runs the server. Settings come from flags > EZRA_* env >
// defaults; a bad one prints one line naming the flag and exits with code 2.
import { type ArgsDef, defineCommand, runMain } from "citty";
import pkg from "../package.json" with { type: "json" };
import { backupCommand } from "./backup.ts";
import { ConfigError, OPTIONS, optionHelp, resolveConfig } from "./config.ts";
import { startServer } from "./start.ts";

const serverArgs: ArgsDef = Object.fromEntries(
  OPTIONS.map((o) => [o.flag, { type: o.boolean ? "boolean" : "string", description: o.description }]),
);

/** Flags citty would silently ignore: a typo must not start a server with defaults. */
function unknownFlags(rawArgs: string[]): string[] {
  const known = new Set([...OPTIONS.map((o) => o.flag), "help", "version", "h", "v"]);
  const takesValue = new Set(OPTIONS.filter((o) => !o.boolean).map((o) => `--${o.flag}`));
  // The `-1` of `--max-attempts -1` is a value (citty reads it so), to be judged by the flag's parser.
  const isValue = (a: string, i: number) => !a.startsWith("--") && i > 0 && takesValue.has(rawArgs[i - 1]);
  return rawArgs
    .filter((a, i) => a.startsWith("-") && !isValue(a, i))
    .map((a) => a.replace(/^--?/, "").split("=")[0].replace(/^no-/, ""))
    .filter((name) => !known.has(name));
}

export function exitWithUsageError(message: string): never {
  process.stderr.write(`ezra: ${message}\n`);
  process.exit(2);
}

const main = defineCommand({
  meta: { name: "ezra", version: pkg.version, description: "A persistent task queue speaking the Redis Streams protocol." },
  args: serverArgs,
  subCommands: { backup: backupCommand },
  setup({ args, rawArgs }) {
    // Runs before citty looks for a subcommand: a typo or stray word is a usage error, as it
    // always was, not citty's "Unknown command".
    const first = args._?.[0];
    if (first === "backup") return;
    const unknown = unknownFlags(rawArgs);
    if (unknown.length > 0) exitWithUsageError(`--${unknown[0]}: unknown flag (see ezra --help)`);
    if (first !== undefined) exitWithUsageError(`unexpected argument '${first}' (see ezra --help)`);
  },
  async run({ args, rawArgs }) {
    // citty runs the parent's run after a subcommand: the server is only the default command.
    if (args._?.[0] === "backup") return;
    const unknown = unknownFlags(rawArgs);
    if (unknown.length > 0) exitWithUsageError(`--${unknown[0]}: unknown flag (see ezra --help)`);
    const positional = args._ ?? [];
    if (positional.length > 0) exitWithUsageError(`unexpected argument '${positional[0]}' (see ezra --help)`);
    const flags: Record<string, string | boolean | undefined> = {};
    for (const o of OPTIONS) {
      const value = args[o.flag] as string | boolean | undefined;
      // citty reports absent booleans as undefined; a present one is true/false.
      if (value !== undefined) flags[o.flag] = value;
    }
    try {
      await startServer(resolveConfig(flags, process.env), pkg.version);
    } catch (err) {
      if (err instanceof ConfigError) exitWithUsageError(err.message);
      throw err;
    }
  },
});

if (process.argv[2] !== "backup" && (process.argv.includes("--help") || process.argv.includes("-h"))) {
  process.stdout.write(
    `ezra ${pkg.version}: a persistent task queue speaking the Redis Streams protocol.\n\n` +
      `Usage: ezra --data-dir DIR [options]\n       ezra backup --data-dir DIR --out FILE   (a consistent copy, while the server runs)\n\nOptions (flag > environment variable > default):\n${optionHelp()}\n` +
      `  --help                            Show this help.\n  --version                         Print the version.\n`,
  );
  process.exit(0);
}

runMain(main);
