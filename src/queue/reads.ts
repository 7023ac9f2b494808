// Reading a queue without delivering anything (XRANGE, XREAD, blocked XREAD) and the keyspace
// view of queues (EXISTS, SCAN, DEL). A key is a queue, or a dead view that holds tasks.
import { DEAD_SUFFIX, type Engine, type Entry, isDeadView, type ReadRequest, type ReadResult } from "./engine.ts";
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

// --- keyspace ------------------------------------------------------------------------------

/** A queue exists from its creation until DEL; a dead view exists while it holds tasks. */
export function keyExists(engine: Engine, key: string): boolean {
  if (isDeadView(key)) return engine.driver.hasTasks(key);
  return engine.exists(key);
}

/** Every key: each queue, and `<queue>::dead` after it when that view holds tasks. */
export function keyNames(engine: Engine): string[] {
  const names: string[] = [];
  for (const name of engine.queueNames()) {
    names.push(name);
    const dead = name + DEAD_SUFFIX;
    if (engine.driver.hasTasks(dead)) names.push(dead);
  }
  return names;
}

/** A SCAN position: a possible key and the 32-bit hash of its name that orders the scan. */
export interface KeySlot {
  name: string;
  slot: number;
  /** A `<queue>::dead` candidate: a key only while it holds tasks (checked when visited). */
  dead: boolean;
}

const slotCache = new WeakMap<Engine, { queues: string[]; slots: KeySlot[] }>();

/**
 * Every queue and its dead view as SCAN positions, ordered by (slot, name). Sorting is
 * redone only when the set of queues changed, so paging through many queues costs one
 * comparison of the queue list per call, not a sort.
 */
export function keySlots(engine: Engine): KeySlot[] {
  const queues = engine.queueNames();
  const cached = slotCache.get(engine);
  if (cached && cached.queues.length === queues.length && cached.queues.every((q, i) => q === queues[i])) return cached.slots;
  const slots: KeySlot[] = [];
  for (const name of queues) {
    slots.push({ name, slot: nameHash(name), dead: false });
    const dead = name + DEAD_SUFFIX;
    slots.push({ name: dead, slot: nameHash(dead), dead: true });
  }
  slots.sort((a, b) => a.slot - b.slot || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  slotCache.set(engine, { queues, slots });
  return slots;
}

/** True when a visited SCAN position is a key now. */
export function slotIsKey(engine: Engine, slot: KeySlot): boolean {
  return !slot.dead || engine.driver.hasTasks(slot.name);
}

/** FNV-1a over the name's UTF-16 code units: stable across calls and restarts. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * DEL: on a queue, removes its tasks in every state, its dead letters, groups, consumers and
 * settings (ids start again from 0-0, as in Redis). On a dead view, removes only the dead
 * tasks. Readers blocked in XREADGROUP on it are answered with an error, as in Redis 7; XREAD
 * and BLPOP readers keep waiting, and a later push recreates the queue and serves them.
 */
export function deleteKey(engine: Engine, key: string): boolean {
  if (!keyExists(engine, key)) return false;
  if (isDeadView(key)) {
    engine.driver.deleteTasksOf(key);
    engine.keyDeleted(key);
    return true;
  }
  // Dead letters go too: their ids could collide with the restarted ids of a new queue.
  engine.driver.deleteQueue(key);
  engine.forgetQueue(key);
  engine.keyDeleted(key);
  return true;
}
