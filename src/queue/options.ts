// A task's own options, given as reserved fields of the pushed task (XADD q * ttl 60 ...): the
// one parser every front door uses, so a new option (the job features) is added here once.
// Reserved fields set options and are not stored among the task's fields.
import { QueueError } from "./errors.ts";

export interface TaskOptions {
  /** Seconds until the task is removed unless delivered and finished. */
  ttlSeconds?: number;
  /** Deliveries before the task goes to the dead view; overrides the queue's setting. */
  maxAttempts?: number;
}

export const TTL_SECONDS_MAX = 10 * 365 * 24 * 3600;
export const MAX_ATTEMPTS_MAX = 1_000_000;

const utf8 = new TextDecoder();

/**
 * Splits `pairs` (field, value, field, value, ...) into the task's stored fields and its options.
 * A bad option value is refused with INVALID_TASK_OPTION before anything is stored.
 */
export function parseTaskOptions(pairs: Uint8Array[]): { fields: Uint8Array[]; options: TaskOptions } {
  const fields: Uint8Array[] = [];
  const options: TaskOptions = {};
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i];
    // Cheap length test first: most fields are neither "ttl" (3) nor "max_attempts" (12).
    if (name.length === 3 && utf8.decode(name) === "ttl") {
      options.ttlSeconds = wholeNumber(pairs[i + 1], "ttl", 1, TTL_SECONDS_MAX);
    } else if (name.length === 12 && utf8.decode(name) === "max_attempts") {
      options.maxAttempts = wholeNumber(pairs[i + 1], "max_attempts", 1, MAX_ATTEMPTS_MAX);
    } else fields.push(name, pairs[i + 1]);
  }
  return { fields, options };
}

function wholeNumber(arg: Uint8Array, option: string, min: number, max: number): number {
  const s = utf8.decode(arg);
  const n = /^\d{1,16}$/.test(s) ? Number(s) : NaN;
  if (!(n >= min && n <= max)) {
    throw new QueueError("INVALID_TASK_OPTION", `invalid ${option} '${s}': expected a whole number from ${min} to ${max}`, { option });
  }
  return n;
}
