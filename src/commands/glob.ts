// Redis's glob patterns for KEYS and SCAN MATCH: `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
// Runs in time proportional to pattern x subject (one backtrack point per `*`), never exponential.

/** True when `subject` matches the whole `pattern` (case-sensitive). */
export function globMatch(pattern: string, subject: string): boolean {
  let p = 0;
  let s = 0;
  let starP = -1; // pattern index just after the last `*` seen
  let starS = 0; // subject index that `*` is currently stretched to
  while (s < subject.length) {
    if (p < pattern.length && pattern[p] === "*") {
      starP = ++p;
      starS = s;
      continue;
    }
    const next = p < pattern.length ? matchOne(pattern, p, subject[s]) : -1;
    if (next >= 0) {
      p = next;
      s++;
    } else if (starP >= 0) {
      // Let the last `*` swallow one more character and try again from there.
      p = starP;
      s = ++starS;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

/** Matches one pattern token at `p` against `ch`; the index after the token, or -1. */
function matchOne(pattern: string, p: number, ch: string): number {
  const c = pattern[p];
  if (c === "?") return p + 1;
  if (c === "[") return matchClass(pattern, p + 1, ch);
  if (c === "\\" && p + 1 < pattern.length) return pattern[p + 1] === ch ? p + 2 : -1;
  return c === ch ? p + 1 : -1;
}

/** `[...]` starting after the `[`; an unclosed class ends at the end of the pattern, as in Redis. */
function matchClass(pattern: string, p: number, ch: string): number {
  const negate = pattern[p] === "^";
  if (negate) p++;
  let matched = false;
  while (p < pattern.length && pattern[p] !== "]") {
    if (pattern[p] === "\\" && p + 1 < pattern.length) {
      if (pattern[p + 1] === ch) matched = true;
      p += 2;
    } else if (p + 2 < pattern.length && pattern[p + 1] === "-" && pattern[p + 2] !== "]") {
      let lo = pattern[p];
      let hi = pattern[p + 2];
      if (lo > hi) [lo, hi] = [hi, lo];
      if (ch >= lo && ch <= hi) matched = true;
      p += 3;
    } else {
      if (pattern[p] === ch) matched = true;
      p++;
    }
  }
  if (p < pattern.length) p++; // skip `]`
  return matched !== negate ? p : -1;
}
