// When done tasks are due for purging, kept in memory by the SQLite driver as coarse buckets:
// per span of purge time, per key, the range of task ids (by ms) acked with that purge time.
// A span is one second for purges due within the hour, a minute within the day, an hour
// beyond, so the buckets of a queue number at most a few thousand whatever its retention
// (one-second buckets of a 7-day retention were 604,800 per queue); a purge is then late by
// at most its span.
// The retention sweep deletes each due bucket's range with one keyed statement, so task_state
// needs no index by purge time (that partial index cost every ack a b-tree insert and every
// purge a delete: docs/storage.md, "Held tasks in memory"). A bucket costs a few dozen bytes
// however many tasks it covers.
//
// After a start or a rollback the buckets are gone, but done rows are not: every key that may
// hold done rows is marked unswept, and the sweep walks it in id order in chunks (deleting what
// is due, bucketing the rest), so start-up pays no scan for retention.

/** A key's task ids (by ms) acked with purge times in one span. */
interface Range {
  loMs: number;
  hiMs: number;
}

export class RetentionBuckets {
  /** Purge span's end, in seconds -> key -> id range. */
  private buckets = new Map<number, Map<number, Range>>();
  /** Purge seconds with a bucket, ascending (acks mostly append: purge times grow). */
  private seconds: number[] = [];
  /** Keys whose done rows are not bucketed yet -> where the walk goes on (ms, seq after). */
  readonly unswept = new Map<number, { ms: number; seq: number }>();

  /** Forgets every bucket; `keys` are walked again by the sweep. */
  reset(keys: Iterable<number>): void {
    this.buckets = new Map();
    this.seconds = [];
    this.unswept.clear();
    for (const key of keys) this.unswept.set(key, { ms: -1, seq: 0 });
  }

  /** A task of `key` with id `ms`-* is done, to be purged at `purgeAt`. */
  add(key: number, ms: number, purgeAt: number): void {
    const span = spanSeconds(purgeAt - Date.now());
    const second = Math.ceil(purgeAt / 1000 / span) * span;
    let bucket = this.buckets.get(second);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(second, bucket);
      insertSorted(this.seconds, second);
    }
    const range = bucket.get(key);
    if (!range) bucket.set(key, { loMs: ms, hiMs: ms });
    else if (ms < range.loMs) range.loMs = ms;
    else if (ms > range.hiMs) range.hiMs = ms;
  }

  /** The earliest time a sweep has work: now-ish while keys are unswept. */
  next(now: number): number | null {
    if (this.unswept.size > 0) return now;
    return this.seconds.length > 0 ? this.seconds[0] * 1000 : null;
  }

  /** Due buckets' ranges, earliest first; `done(key, second)` retires one once swept whole. */
  *due(now: number): Generator<{ second: number; key: number; range: Range }> {
    // Copy the due seconds: the caller may retire buckets while iterating.
    const dueSeconds: number[] = [];
    for (const s of this.seconds) {
      if (s * 1000 > now) break;
      dueSeconds.push(s);
    }
    for (const second of dueSeconds) {
      const bucket = this.buckets.get(second);
      if (!bucket) continue;
      for (const [key, range] of [...bucket]) yield { second, key, range };
    }
  }

  /** The key's range in that bucket was swept whole. */
  done(second: number, key: number): void {
    const bucket = this.buckets.get(second);
    if (!bucket) return;
    bucket.delete(key);
    if (bucket.size === 0) {
      this.buckets.delete(second);
      this.seconds.splice(this.seconds.indexOf(second), 1);
    }
  }
}

function insertSorted(sorted: number[], item: number): void {
  let i = sorted.length;
  while (i > 0 && sorted[i - 1] > item) i--;
  sorted.splice(i, 0, item);
}

/** Purges due within the hour go by the second, within the day by the minute, later by the hour. */
function spanSeconds(dueInMs: number): number {
  if (dueInMs <= 3_600_000) return 1;
  return dueInMs <= 86_400_000 ? 60 : 3600;
}
