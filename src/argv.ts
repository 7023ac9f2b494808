// What ezra adds to citty, the same for `ezra` and `ezra backup`. citty reads the command line into
// `args` and dispatches the subcommand, but it ignores flags and words it does not know (a typo
// must not start a server with defaults), reads `--switch=VALUE` as on for any VALUE but "false",
// and its usage text is coloured: the `strict` plugin, the errors and `helpText` are ezra's own.
import type { ArgDef, ArgsDef, CittyPlugin } from "citty";

/** A bad command line or setting (exit 2), or a failure of the machine (exit 1): one plain line `command: message`. */
export class CliError extends Error {
  constructor(readonly command: string, message: string, readonly exitCode: 1 | 2 = 2) {
    super(message);
  }
}

/** "value": `--port N` or `--port=N`; "switch": `--allow-public[=VALUE]`; "off": `--no-allow-public`; "action": `--help`, `-h`. */
type Kind = "value" | "switch" | "off" | "action";

/**
 * A citty plugin: before `command` runs, the first argument citty would pass over (an unknown
 * flag, named as typed with the nearest valid one; a value flag with no value; a stray word) is a
 * CliError, unless an action (help, version) is asked for as its help lists it. It walks as citty
 * does: a value flag takes the next argument whatever it looks like, so `--max-attempts -1`
 * reaches the flag's own check. Switches are booleans with a negativeDescription (`--no-X`); each
 * one given is set here, in order, to VALUE as typed (for the command to read as its env var) or
 * true/false, since citty would read `--allow-public=0` as on and `=maybe` unnoticed.
 */
export function strict(command: string): CittyPlugin {
  return {
    name: "strict",
    setup({ rawArgs, args, cmd }) {
      // A leading subcommand checks its own arguments.
      if (Object.hasOwn((cmd.subCommands ?? {}) as object, rawArgs[0] ?? "")) return;
      const defs = cmd.args as ArgsDef;
      const kind = (def: ArgDef | undefined): Kind | undefined =>
        def === undefined ? undefined : def.type === "string" ? "value" : "negativeDescription" in def ? "switch" : "action";
      const forms = new Map<string, { name: string; kind: Kind }>();
      for (const [name, def] of Object.entries(defs)) {
        for (const typed of spellings(name, def)) forms.set(typed, { name, kind: kind(def)! });
        if (kind(def) === "switch") forms.set(`--no-${name}`, { name, kind: "off" });
      }
      let problem: string | undefined;
      for (let i = 0; i < rawArgs.length && problem === undefined; i++) {
        const arg = rawArgs[i];
        if (arg === "--" || arg === "-" || !arg.startsWith("-")) {
          const word = arg === "--" ? rawArgs[i + 1] : arg;
          if (word !== undefined) problem = `unexpected argument '${word}' (see ${command} --help)`;
          break;
        }
        const eq = arg.indexOf("=");
        const typed = eq === -1 ? arg : arg.slice(0, eq);
        const inline = eq === -1 ? undefined : arg.slice(eq + 1);
        const form = forms.get(typed);
        if (form?.kind === "value") {
          if (inline === undefined && ++i === rawArgs.length) problem = `${typed}: needs a value (see ${command} --help)`;
        } else if (form && (inline === undefined || form.kind === "switch")) {
          if (form.kind !== "action") args[form.name] = inline ?? form.kind === "switch";
        } else {
          const name = typed.replace(/^--?/, "");
          // "--no-port": the flag exists but is not a switch; point at it rather than at a spelling.
          const negated = name.startsWith("no-") ? kind(defs[name.slice(3)]) : undefined;
          const near = nearest(negated && negated !== "action" ? name.slice(3) : name, Object.keys(defs));
          problem = `${typed}: unknown flag (${near ? `did you mean --${near}?` : `see ${command} --help`})`;
        }
      }
      // citty also reads `--h`, `-hv` and `--help=0` as help: those are unknown flags here.
      const asked = [...forms].some(([typed, form]) => form.kind === "action" && args[form.name] === true && rawArgs.includes(typed));
      if (problem !== undefined && !asked) throw new CliError(command, problem);
    },
  };
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
function nearest(typed: string, names: string[]): string | null {
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

/** How a flag is typed: `--name`, then each alias (`-h`). */
const spellings = (name: string, def: ArgDef) => [`--${name}`, ...["alias" in def ? (def.alias ?? []) : []].flat().map((a) => `-${a}`)];

/** Help in ezra's layout, plain text: title, usage, one aligned row per flag of `args` (citty's definitions), then notes. */
export function helpText(title: string, usage: string[], args: ArgsDef, notes: string[]): string {
  const rows = Object.entries(args).map(([name, def]) => {
    const flag = spellings(name, def).join(", ");
    return [def.valueHint ? `${flag} ${def.valueHint}` : flag, def.description ?? ""];
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return [
    title,
    "",
    ...usage.map((line, i) => `${i === 0 ? "Usage: " : "       "}${line}`),
    "",
    "Options (a flag wins over its environment variable [EZRA_*], which wins over the default):",
    ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`),
    ...(notes.length ? ["", ...notes] : []),
  ].join("\n") + "\n";
}
