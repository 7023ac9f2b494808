// The keyspace view of queues (EXISTS, KEYS, SCAN, DEL): a key is a queue, or its dead view
// `<queue>::dead` while that holds tasks. Owns SCAN's ordering of keys; deleting a key drops
// every cache that knew it (queues, group names, seen-times) in one place.
import type { Driver } from "../store/driver.ts";
import type { GroupNames } from "./groups.ts";
import { DEAD_SUFFIX, isDeadView, type Queues } from "./queues.ts";
import type { ConsumerSeen } from "./seen.ts";

/** A SCAN position: a possible key and the 32-bit hash of its name that orders the scan. */
export interface KeySlot {
  name: string;
  slot: number;
  /** A `<queue>::dead` candidate: a key only while it holds tasks (checked when visited). */
  dead: boolean;
}

export class Keyspace {
  private slotCache: { queues: string[]; slots: KeySlot[] } | null = null;

  constructor(
    private readonly driver: Driver,
    private readonly queues: Queues,
    private readonly groups: GroupNames,
    private readonly seen: ConsumerSeen,
    /** `key` was deleted: answer whoever waits on it. */
    private readonly deleted: (key: string) => void,
  ) {}

  /** A queue exists from its creation until DEL; a dead view exists while it holds tasks. */
  exists(key: string): boolean {
    if (isDeadView(key)) return this.driver.hasTasks(key);
    return this.queues.get(key) !== undefined;
  }

  /** Every key: each queue, and `<queue>::dead` after it when that view holds tasks. */
  names(): string[] {
    const names: string[] = [];
    for (const name of this.queues.names()) {
      names.push(name);
      const dead = name + DEAD_SUFFIX;
      if (this.driver.hasTasks(dead)) names.push(dead);
    }
    return names;
  }

  /**
   * Every queue and its dead view as SCAN positions, ordered by (slot, name). Sorting is
   * redone only when the set of queues changed, so paging through many queues costs one
   * comparison of the queue list per call, not a sort.
   */
  slots(): KeySlot[] {
    const queues = this.queues.names();
    const cached = this.slotCache;
    if (cached && cached.queues.length === queues.length && cached.queues.every((q, i) => q === queues[i])) return cached.slots;
    const slots: KeySlot[] = [];
    for (const name of queues) {
      slots.push({ name, slot: nameHash(name), dead: false });
      const dead = name + DEAD_SUFFIX;
      slots.push({ name: dead, slot: nameHash(dead), dead: true });
    }
    slots.sort((a, b) => a.slot - b.slot || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.slotCache = { queues, slots };
    return slots;
  }

  /** True when a visited SCAN position is a key now. */
  slotIsKey(slot: KeySlot): boolean {
    return !slot.dead || this.driver.hasTasks(slot.name);
  }

  /**
   * DEL: on a queue, removes its tasks in every state, its dead letters, groups, consumers and
   * settings (ids start again from 0-0, as in Redis). On a dead view, removes only the dead
   * tasks. Readers blocked in XREADGROUP on it are answered with an error, as in Redis 7; XREAD
   * and BLPOP readers keep waiting, and a later push recreates the queue and serves them.
   */
  delete(key: string): boolean {
    if (!this.exists(key)) return false;
    if (isDeadView(key)) {
      this.driver.deleteTasksOf(key);
      this.deleted(key);
      return true;
    }
    // Dead letters go too: their ids could collide with the restarted ids of a new queue.
    this.driver.deleteQueue(key);
    this.queues.forget(key);
    this.groups.forgetQueue(key);
    this.seen.forget(key);
    this.deleted(key);
    return true;
  }
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
