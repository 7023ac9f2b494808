// Builders for recorded replies in render() notation, so an intended difference can state what
// ezra answers in RESP2 and RESP3 with one expression: `read(p, [["q", [entry(...)]]])`.
import type { Protocol } from "./harness.ts";

export const OK = "+OK";
export const int = (n: number): string => `:${n}`;
export const bulk = (s: string): string => JSON.stringify(s);
export const err = (text: string): string => `-${text}`;
/** A null where Redis sends a null bulk string. */
export const nil = (p: Protocol): string => (p === 3 ? "_" : "$-1");
/** A null where Redis sends a null array (an empty read, a timeout). */
export const nilArray = (p: Protocol): string => (p === 3 ? "_" : "*-1");

/** A stream entry as ezra hands it out: stored fields, then attempts and max_attempts. */
export function entry(id: string, fields: string[], attempts: number, maxAttempts = 3): string {
  const all = [...fields, "attempts", String(attempts), "max_attempts", String(maxAttempts)];
  return `[${bulk(id)}, [${all.map(bulk).join(", ")}]]`;
}

/** An XREADGROUP reply: a map of key -> entries in RESP3, pairs in RESP2. */
export function read(p: Protocol, streams: [string, string[]][]): string {
  if (p === 3) return `{${streams.map(([k, es]) => `${bulk(k)}: [${es.join(", ")}]`).join(", ")}}`;
  return `[${streams.map(([k, es]) => `[${bulk(k)}, [${es.join(", ")}]]`).join(", ")}]`;
}

/** A map reply (RESP3 `%`), which RESP2 sends as a flat array of name, value. */
export function fields(p: Protocol, pairs: [string, string][]): string {
  if (p === 3) return `{${pairs.map(([k, v]) => `${bulk(k)}: ${v}`).join(", ")}}`;
  return `[${pairs.map(([k, v]) => `${bulk(k)}, ${v}`).join(", ")}]`;
}
