// The queues the keyspace holds, cached from storage: each queue's id progress (last id, entries
// added, max deleted id), its settings and the size of its fattest task. Progress is saved with
// the turn (saveDirty, before commit); settings are saved at once. A key is a queue or its
// dead-letter view `<queue>::dead`, which shares the queue's record.
import type { Driver, EntryFields, Release } from "../store/driver.ts";
import { QueueError } from "./errors.ts";
import { MIN_ID, type StreamId } from "./ids.ts";

export const DEAD_SUFFIX = "::dead";

export const isDeadView = (key: string) => key.endsWith(DEAD_SUFFIX);

/** The queue a key belongs to: groups, consumers and settings are recorded under it, also for its dead view. */
export const queueOf = (key: string) => (isDeadView(key) ? key.slice(0, -DEAD_SUFFIX.length) : key);

export interface QueueDefaults {
  visibilityTimeoutMs: number;
  maxAttempts: number;
  retentionMs: number;
  entryFields: EntryFields;
}

export interface QueueSettings {
  visibilityTimeoutMs: number | null;
  maxAttempts: number | null;
  retentionMs: number | null;
  entryFields: EntryFields | null;
}

export interface QueueState {
  name: string;
  last: StreamId;
  entriesAdded: number;
  /** Largest encoded task pushed to the queue, in bytes (bounds deliveries by reply size). */
  fieldsBytesMax: number;
  /** Largest id XDEL removed (or XSETID MAXDELETEDID set): XINFO's max-deleted-entry-id. */
  maxDeleted: StreamId;
  settings: QueueSettings;
  createdAt: number;
  /** Progress changed since the last save. */
  dirty: boolean;
}

export class Queues {
  private byName = new Map<string, QueueState>();

  constructor(
    private readonly driver: Driver,
    private readonly now: () => number,
    private readonly defaults: QueueDefaults,
  ) {}

  /**
   * (Re)reads every queue from storage: at start-up (with `recovery`: every lease ends), and
   * after a rollback undid cached changes.
   */
  load(recovery: Release | null): void {
    const byName = new Map<string, QueueState>();
    for (const record of this.driver.queues(recovery)) {
      byName.set(record.name, {
        name: record.name,
        last: record.lastId,
        entriesAdded: record.entriesAdded,
        fieldsBytesMax: record.fieldsBytesMax,
        maxDeleted: record.maxDeletedId,
        settings: {
          visibilityTimeoutMs: record.visibilityTimeoutMs,
          maxAttempts: record.maxAttempts,
          retentionMs: record.retentionMs,
          entryFields: record.entryFields,
        },
        createdAt: record.createdAt,
        dirty: false,
      });
    }
    this.byName = byName;
  }

  /** The queue `key` belongs to (a dead view's is its queue's). */
  get(key: string): QueueState | undefined {
    return this.byName.get(queueOf(key));
  }

  create(name: string): QueueState {
    const now = this.now();
    this.driver.createQueue(name, now);
    const q: QueueState = {
      name,
      last: { ms: 0, seq: 0 },
      entriesAdded: 0,
      fieldsBytesMax: 0,
      maxDeleted: MIN_ID,
      settings: { visibilityTimeoutMs: null, maxAttempts: null, retentionMs: null, entryFields: null },
      createdAt: now,
      dirty: false,
    };
    this.byName.set(name, q);
    return q;
  }

  /** DEL: drops a queue once its rows are deleted. */
  forget(name: string): void {
    this.byName.delete(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The settings `key` runs with: its own, or the server default where it has none. */
  effective(key: string): QueueDefaults {
    const s = this.get(key)?.settings;
    return {
      visibilityTimeoutMs: s?.visibilityTimeoutMs ?? this.defaults.visibilityTimeoutMs,
      maxAttempts: s?.maxAttempts ?? this.defaults.maxAttempts,
      retentionMs: s?.retentionMs ?? this.defaults.retentionMs,
      entryFields: s?.entryFields ?? this.defaults.entryFields,
    };
  }

  settings(key: string): QueueSettings {
    const q = this.get(key);
    if (!q) throw new QueueError("NOT_FOUND", `no queue ${key}`);
    return { ...q.settings };
  }

  /** Changes a queue's settings; `null` reverts one to the server default. Creates the queue. */
  configure(key: string, changes: Partial<QueueSettings>): void {
    if (isDeadView(key)) throw new QueueError("DEAD_VIEW", `settings belong to ${queueOf(key)}`, { queue: queueOf(key) });
    const q = this.get(key) ?? this.create(key);
    q.settings = { ...q.settings, ...changes };
    this.driver.saveQueueSettings(this.record(q));
  }

  /** Saves the progress of every queue that changed in this turn. */
  saveDirty(): void {
    for (const q of this.byName.values()) {
      if (!q.dirty) continue;
      this.driver.saveQueueProgress(this.record(q));
      q.dirty = false;
    }
  }

  private record(q: QueueState) {
    return {
      name: q.name,
      lastId: q.last,
      entriesAdded: q.entriesAdded,
      fieldsBytesMax: q.fieldsBytesMax,
      maxDeletedId: q.maxDeleted,
      ...q.settings,
      createdAt: q.createdAt,
    };
  }
}
