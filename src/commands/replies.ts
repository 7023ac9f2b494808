// Reply shapes shared by commands: an entry is [id, [field, value, ...]], ezra appends
// `attempts` and `max_attempts`; XREAD-style results are a map in RESP3, pairs in RESP2; HELP lines.
import type { Entry, ReadResult } from "../queue/engine.ts";
import { formatId } from "../queue/ids.ts";
import type { ReplyWriter } from "../resp/encoder.ts";
import type { Context } from "./types.ts";

export function writeEntry(reply: ReplyWriter, entry: Entry): void {
  reply.array(2);
  reply.bulk(formatId(entry.id));
  reply.array(entry.fields.length + (entry.plain ? 0 : 4));
  for (const field of entry.fields) reply.bulk(field);
  // A queue with entry_fields plain delivers exactly what was pushed (XPENDING still counts).
  if (entry.plain) return;
  reply.bulk("attempts");
  reply.bulk(String(entry.attempts));
  reply.bulk("max_attempts");
  reply.bulk(String(entry.maxAttempts));
}

export function writeEntries(reply: ReplyWriter, entries: Entry[]): void {
  reply.array(entries.length);
  for (const entry of entries) writeEntry(reply, entry);
}

export function writeReadResult(reply: ReplyWriter, result: ReadResult): void {
  if (result.length === 0) return reply.nilArray();
  if (reply.protocol === 3) reply.map(result.length);
  else reply.array(result.length);
  for (const [key, entries] of result) {
    if (reply.protocol !== 3) reply.array(2);
    reply.bulk(key);
    writeEntries(reply, entries);
  }
}

/** A HELP subcommand's handler: its lines as simple strings, as Redis answers HELP. */
export function help(lines: string[]) {
  return (ctx: Context): void => {
    const reply = ctx.session.reply;
    reply.array(lines.length);
    for (const line of lines) reply.simple(line);
  };
}

/** Writes a flat list of name/value pairs as a RESP3 map or a RESP2 array. */
export function writePairs(reply: ReplyWriter, pairs: [string, string | number | null][]): void {
  reply.map(pairs.length);
  for (const [name, value] of pairs) {
    reply.bulk(name);
    if (value === null) reply.nil();
    else if (typeof value === "number") reply.integer(value);
    else reply.bulk(value);
  }
}
