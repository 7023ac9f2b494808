// Reading a queue without delivering anything (XRANGE, XREAD, blocked XREAD): entries in every
// state the key holds, straight from storage.
import type { Engine, Entry, ReadRequest, ReadResult } from "./engine.ts";
import { incrementId, MAX_ID, MIN_ID, type StreamId } from "./ids.ts";
import type { Waiter } from "./waiters.ts";

/** Entries with start <= id <= end in id order (newest first when `reverse`), at most `count`. */
export function range(engine: Engine, key: string, start: StreamId, end: StreamId, count: number, reverse: boolean): Entry[] {
  if (count <= 0) return [];
  return engine.entriesOf(key, engine.driver.range(key, start, end, count, reverse));
}

/** Entries with an id greater than `after`, oldest first (XREAD). */
export function readAfter(engine: Engine, key: string, after: StreamId, count: number): Entry[] {
  const start = incrementId(after);
  return start === null ? [] : range(engine, key, start, MAX_ID, count, false);
}

/** XREAD's `$`: the newest entry's id, 0-0 for an empty or missing key. */
export function lastEntryId(engine: Engine, key: string): StreamId {
  return engine.driver.lastTask(key) ?? MIN_ID;
}

/**
 * Blocks an XREAD until an entry newer than its id arrives on one of `keys`. It is served
 * from that one key, like Redis; it delivers nothing, so it never takes work from workers.
 */
export function waitForEntries(
  engine: Engine,
  keys: string[],
  afters: StreamId[],
  count: number,
  timeoutMs: number,
  resolve: (result: ReadResult) => void,
  onTimeout: () => void,
): Waiter<ReadRequest> {
  const afterByKey = new Map<string, StreamId>();
  keys.forEach((key, i) => afterByKey.set(key, afters[i]));
  const tryServe = (queue: string): boolean => {
    const after = afterByKey.get(queue);
    if (!after) return false;
    const entries = readAfter(engine, queue, after, count);
    if (entries.length === 0) return false;
    resolve([[queue, entries]]);
    return true;
  };
  const req: ReadRequest = { keys: [...afterByKey.keys()], group: "", consumer: "", count, noack: true };
  return engine.waitForEntries(req, timeoutMs, tryServe, onTimeout);
}

/** Waiting tasks of a key, but counting no further than `max` (a bounded cost per call). */
export function waitingUpTo(engine: Engine, key: string, max: number): number {
  return engine.driver.countAvailableUpTo(key, max);
}
