// Reads a command line against a table of known flags, and lays out help text: one parser for
// `ezra` and `ezra backup`, so both spell errors, suggestions and help the same way (no colour).

export interface FlagSpec {
  /** Long name without dashes, e.g. "data-dir". */
  name: string;
  /** true: takes a value (`--port 1`, `--port=1`); false: a switch (`--allow-public`, `--no-allow-public`). */
  value: boolean;
}

export interface Parsed {
  /** By flag name: the value as typed, or true/false for a switch given without `=value`. */
  values: Record<string, string | boolean>;
  help: boolean;
  version: boolean;
  /** The first problem in the command line, as one message without the program prefix. */
  error: string | null;
}

/**
 * Every argument must be a known flag or its value: a typo must not start a server with
 * defaults. A flag that takes a value takes the next argument whatever it looks like (so
 * `--max-attempts -1` reaches the flag's own check), as node's util.parseArgs does.
 */
export function parseArgv(argv: string[], flags: FlagSpec[], options: { version: boolean; command: string }): Parsed {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const parsed: Parsed = { values: {}, help: false, version: false, error: null };
  const fail = (message: string) => {
    parsed.error ??= message;
  };
  const valid = [...flags.map((f) => f.name), "help", ...(options.version ? ["version"] : [])];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      parsed.help = true;
      continue;
    }
    if (options.version && (arg === "--version" || arg === "-v")) {
      parsed.version = true;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-" || arg === "--") {
      const extra = arg === "--" ? argv[i + 1] : arg;
      if (extra !== undefined) fail(`unexpected argument '${extra}' (see ${options.command} --help)`);
      if (arg === "--") break;
      continue;
    }
    const eq = arg.indexOf("=");
    const typed = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const long = typed.startsWith("--") ? typed.slice(2) : null;
    const flag = long === null ? undefined : byName.get(long);
    const negated = long?.startsWith("no-") ? byName.get(long.slice(3)) : undefined;
    if (flag?.value) {
      if (inline !== undefined) parsed.values[flag.name] = inline;
      else if (i + 1 < argv.length) parsed.values[flag.name] = argv[++i];
      else fail(`${typed}: needs a value (see ${options.command} --help)`);
    } else if (flag) {
      parsed.values[flag.name] = inline ?? true;
    } else if (negated && !negated.value && inline === undefined) {
      parsed.values[negated.name] = false;
    } else {
      const name = typed.replace(/^--?/, "");
      // "--no-port": the flag exists but is not a switch; point at it rather than at a spelling.
      const near = nearest(name.startsWith("no-") && byName.has(name.slice(3)) ? name.slice(3) : name, valid);
      fail(`${typed}: unknown flag (${near ? `did you mean --${near}?` : `see ${options.command} --help`})`);
    }
  }
  return parsed;
}

/** Optimal string alignment distance: Levenshtein plus one-step transpositions ("prot" -> "port" is 1). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The valid name a typo most likely meant: a close spelling, else the one name it begins, extends or is part of. */
export function nearest(typed: string, names: string[]): string | null {
  const name = typed.toLowerCase();
  if (name === "") return null;
  // A third of the length: "data-dri" may be 2 edits off, "x" none (it would match any short name).
  const allowed = Math.max(1, Math.floor(name.length / 3));
  let best: string | null = null;
  let bestDistance = allowed + 1;
  for (const candidate of names) {
    const d = distance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  if (best !== null) return best;
  const only = (matches: string[]) => (matches.length === 1 ? matches[0] : null);
  if (name.length >= 3) {
    // "retention" -> retention-seconds; "output" -> out.
    const prefixed = only(names.filter((n) => n.startsWith(name))) ?? only(names.filter((n) => n.length >= 3 && name.startsWith(n)));
    if (prefixed) return prefixed;
  }
  return name.length >= 4 ? only(names.filter((n) => n.includes(name))) : null;
}

export interface HelpRow {
  /** e.g. "--port N" */
  flag: string;
  text: string;
}

/** The help layout both commands share: title, usage, then one aligned row per flag, then notes. */
export function helpText(parts: { title: string; usage: string[]; heading: string; rows: HelpRow[]; notes: string[] }): string {
  const width = Math.max(...parts.rows.map((r) => r.flag.length)) + 2;
  const usage = parts.usage.map((line, i) => `${i === 0 ? "Usage: " : "       "}${line}`);
  const rows = parts.rows.map((r) => `  ${r.flag.padEnd(width)}${r.text}`);
  return [parts.title, "", ...usage, "", `${parts.heading}:`, ...rows, ...(parts.notes.length ? ["", ...parts.notes] : [])].join("\n") + "\n";
}
