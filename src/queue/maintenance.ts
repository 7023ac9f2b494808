// Background work on one timer: lease expiry, ttl removal and retention purges run when the
// earliest of them is due, in batches, inside a group-commit turn. Nothing due: no timer.
import type { Driver, Moved } from "../store/driver.ts";
import type { Turn } from "./turn.ts";

const BATCH_ROWS = 1000;
// Items due within this slack of each other are handled by one wake-up.
const SLACK_MS = 5;
// setTimeout's longest delay; a later due time is re-checked when this passes.
const DELAY_MAX_MS = 2 ** 31 - 1;
// After a turn fails (disk full, I/O error), background writes wait this long before retrying:
// retrying at once would spin the CPU and fail every client turn it joins.
const RETRY_AFTER_FAILURE_MS = 1000;

export class Maintenance {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private dueAt = Infinity;
  private stopped = false;
  private notBefore = 0;

  constructor(
    private readonly driver: Driver,
    private readonly turn: Turn,
    private readonly now: () => number,
    private readonly defaultMaxAttempts: () => number,
    private readonly onMoved: (moved: Moved[]) => void,
  ) {
    turn.onFinish((failure) => {
      this.notBefore = failure ? this.now() + RETRY_AFTER_FAILURE_MS : 0;
    });
  }

  /** Makes sure the timer fires no later than `at` (ms since epoch). */
  dueBy(at: number): void {
    at = Math.max(at, this.notBefore);
    if (this.stopped || at >= this.dueAt) return;
    this.dueAt = at;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.min(Math.max(0, at - this.now()) + SLACK_MS, DELAY_MAX_MS);
    this.timer = setTimeout(this.run, delay);
  }

  /** Re-reads the earliest due time from storage (after start-up or a rollback). */
  reschedule(): void {
    this.dueAt = Infinity;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const next = this.nextDue();
    if (next !== null) this.dueBy(next);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly run = (): void => {
    this.timer = null;
    this.dueAt = Infinity;
    if (this.stopped) return;
    this.turn.enter();
    if (this.turn.failure) return; // the turn's listeners reschedule after a rollback
    const now = this.now();
    let more = false;
    try {
      const released = this.driver.releaseExpired({ now, defaultMaxAttempts: this.defaultMaxAttempts(), reason: null }, BATCH_ROWS);
      if (released.length > 0) this.onMoved(released);
      const expired = this.driver.expireTtl(now, BATCH_ROWS);
      const purged = this.driver.purgeDone(now, BATCH_ROWS);
      more = released.length === BATCH_ROWS || expired.length === BATCH_ROWS || purged === BATCH_ROWS;
    } catch (err) {
      this.turn.checkAfterError(err);
      if (!this.turn.failure) throw err;
      return;
    }
    if (more) this.dueBy(now);
    else {
      const next = this.nextDue();
      if (next !== null) this.dueBy(next);
    }
  };

  private nextDue(): number | null {
    return this.driver.nextDue();
  }
}
