// Argument parsing shared by handlers: bytes to text, Redis-style integer and id parsing,
// each failing with the error text Redis uses for the same mistake.
import { UserError } from "./errors.ts";
import { parseId, parseRangeBound, type StreamId } from "../queue/ids.ts";

const utf8 = new TextDecoder();

export function text(arg: Uint8Array): string {
  return utf8.decode(arg);
}

export function lower(arg: Uint8Array): string {
  return utf8.decode(arg).toLowerCase();
}

export const notInteger = () => new UserError("ERR", "value is not an integer or out of range");
export const invalidId = () => new UserError("ERR", "Invalid stream ID specified as stream command argument");

/** A whole decimal number as Redis accepts it (optional '-', no spaces, fits in a safe integer). */
export function integer(arg: Uint8Array): number {
  const s = text(arg);
  if (!/^-?\d{1,16}$/.test(s)) throw notInteger();
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw notInteger();
  return n;
}

export function nonNegative(arg: Uint8Array, what = "value"): number {
  const n = integer(arg);
  if (n < 0) throw new UserError("ERR", `${what} is out of range, must be positive`);
  return n;
}

export function streamId(arg: Uint8Array, missingSeq = 0): StreamId {
  const id = parseId(text(arg), missingSeq);
  if (!id) throw invalidId();
  return id;
}

/** A range bound (`-`, `+`, `(id`, id) with Redis's errors for ids that cannot be exclusive. */
export function intervalBound(arg: Uint8Array, isStart: boolean): StreamId {
  const s = text(arg);
  const id = parseRangeBound(s, isStart);
  if (id) return id;
  // A valid id that cannot be made exclusive (the very first or last possible id).
  if (s.startsWith("(") && parseId(s.slice(1))) throw new UserError("ERR", `invalid ${isStart ? "start" : "end"} ID for the interval`);
  throw invalidId();
}

/** Seconds as a decimal (e.g. 0.5); used by ezra's own settings. */
export function seconds(arg: Uint8Array, what: string): number {
  const s = text(arg);
  const n = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n)) throw new UserError("ERR", `${what} must be a number of seconds, got '${s}'`);
  return n;
}
