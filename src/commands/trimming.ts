// XADD's and XTRIM's shared options, parsed in one place as Redis parses them for both:
// `MAXLEN|MINID [=|~] threshold`, `LIMIT count` and (XADD only) NOMKSTREAM, in any order.
import type { TrimRule } from "../queue/engine.ts";
import { parseId } from "../queue/ids.ts";
import { integer, invalidId, lower, text } from "./args.ts";
import { syntaxError, UserError } from "./errors.ts";

export interface AddOrTrimOptions {
  /** null: no trimming asked (XADD only; XTRIM requires a strategy). */
  rule: TrimRule | null;
  noMkStream: boolean;
  /** Index of the first argument that is not an option (XADD's id). */
  next: number;
}

/**
 * Options from args[from]. XTRIM refuses any other argument; XADD stops at the first one, its
 * id. ezra always trims exactly (`~` acts as `=`, which Redis allows); LIMIT 0 means no limit.
 */
export function parseAddOrTrimOptions(args: Uint8Array[], from: number, command: "xadd" | "xtrim"): AddOrTrimOptions {
  const xadd = command === "xadd";
  let rule: TrimRule | null = null;
  let approximate = false;
  let limit: number | null = null;
  let noMkStream = false;
  let i = from;
  for (; i < args.length; i++) {
    const opt = lower(args[i]);
    const more = args.length - i - 1;
    if ((opt === "maxlen" || opt === "minid") && more >= 1) {
      if (rule) throw new UserError("ERR", "syntax error, MAXLEN and MINID options at the same time are not compatible");
      const mode = text(args[i + 1]);
      if ((mode === "=" || mode === "~") && more >= 2) {
        approximate = mode === "~";
        i++;
      }
      const threshold = args[++i];
      if (opt === "maxlen") {
        const maxLength = integer(threshold);
        if (maxLength < 0) throw new UserError("ERR", "The MAXLEN argument must be >= 0.");
        rule = { kind: "maxlen", maxLength, limit: null };
      } else {
        const minId = parseId(text(threshold));
        if (!minId) throw invalidId();
        rule = { kind: "minid", minId, limit: null };
      }
    } else if (opt === "limit" && more >= 1) {
      limit = integer(args[++i]);
      if (limit < 0) throw new UserError("ERR", "The LIMIT argument must be >= 0.");
    } else if (xadd && opt === "nomkstream") noMkStream = true;
    else if (xadd) break;
    else throw syntaxError();
  }
  if (!rule && (limit !== null || !xadd)) {
    throw new UserError("ERR", "syntax error, LIMIT cannot be used without specifying a trimming strategy");
  }
  if (limit !== null && !approximate) {
    // Redis refuses a LIMIT on exact trimming: it could leave the stream longer than asked.
    throw new UserError("ERR", "syntax error, LIMIT cannot be used without the special ~ option");
  }
  if (rule) rule.limit = limit === 0 ? null : limit;
  return { rule, noMkStream, next: i };
}
