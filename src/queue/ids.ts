// Stream ids `<ms>-<seq>` as two safe integers (never packed into one number), with the
// parsing rules of Redis: `*`, `ms-*`, `ms`, `-`, `+`, `(exclusive`. Invalid input -> null.

export interface StreamId {
  ms: number;
  seq: number;
}

/** Largest value of either id part: SQLite and JS numbers both hold it exactly. */
export const ID_PART_MAX = Number.MAX_SAFE_INTEGER;

export const MIN_ID: StreamId = { ms: 0, seq: 0 };
export const MAX_ID: StreamId = { ms: ID_PART_MAX, seq: ID_PART_MAX };

export function formatId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

export function compareIds(a: StreamId, b: StreamId): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.seq - b.seq;
}

/** Parses a decimal part; null when not a plain unsigned integer within ID_PART_MAX. */
export function parsePart(text: string): number | null {
  if (text.length === 0 || text.length > 16) return null;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return null;
    n = n * 10 + c;
  }
  return n <= ID_PART_MAX ? n : null;
}

/** A full or partial id; `missingSeq` fills in the sequence when only `ms` is given. */
export function parseId(text: string, missingSeq = 0): StreamId | null {
  const dash = text.indexOf("-");
  if (dash < 0) {
    const ms = parsePart(text);
    return ms === null ? null : { ms, seq: missingSeq };
  }
  const ms = parsePart(text.slice(0, dash));
  const seq = parsePart(text.slice(dash + 1));
  return ms === null || seq === null ? null : { ms, seq };
}

export type AddIdSpec = { kind: "auto" } | { kind: "autoSeq"; ms: number } | { kind: "explicit"; id: StreamId };

/** XADD's id argument: `*`, `<ms>-*` or `<ms>[-<seq>]`. */
export function parseAddId(text: string): AddIdSpec | null {
  if (text === "*") return { kind: "auto" };
  if (text.endsWith("-*")) {
    const ms = parsePart(text.slice(0, -2));
    return ms === null ? null : { kind: "autoSeq", ms };
  }
  const id = parseId(text);
  return id === null ? null : { kind: "explicit", id };
}

/** The next id after `last` for a clock reading: time moves on, or seq counts up. */
export function nextAutoId(last: StreamId, nowMs: number): StreamId | null {
  if (nowMs > last.ms) return { ms: nowMs, seq: 0 };
  if (last.seq < ID_PART_MAX) return { ms: last.ms, seq: last.seq + 1 };
  if (last.ms < ID_PART_MAX) return { ms: last.ms + 1, seq: 0 };
  return null;
}

/** Range bounds for XRANGE-like commands; `(` makes a bound exclusive. */
export function parseRangeBound(text: string, isStart: boolean): StreamId | null {
  if (text === "-") return MIN_ID;
  if (text === "+") return MAX_ID;
  const exclusive = text.startsWith("(");
  const id = parseId(exclusive ? text.slice(1) : text, isStart ? 0 : ID_PART_MAX);
  if (id === null || !exclusive) return id;
  return isStart ? incrementId(id) : decrementId(id);
}

export function incrementId(id: StreamId): StreamId | null {
  if (id.seq < ID_PART_MAX) return { ms: id.ms, seq: id.seq + 1 };
  if (id.ms < ID_PART_MAX) return { ms: id.ms + 1, seq: 0 };
  return null;
}

export function decrementId(id: StreamId): StreamId | null {
  if (id.seq > 0) return { ms: id.ms, seq: id.seq - 1 };
  if (id.ms > 0) return { ms: id.ms - 1, seq: ID_PART_MAX };
  return null;
}
