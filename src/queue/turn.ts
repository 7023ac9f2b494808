// Group commit: everything that runs in one event-loop turn, from every connection and timer,
// shares one storage transaction, and listeners hear of the outcome only after COMMIT.
import type { Driver } from "../store/driver.ts";

/**
 * Event-loop passes a turn may wait for more commands before it commits. Measured (8x8,
 * 200k tasks, two runs each): full 23.7k -> 28.9k tasks/s with 2 (4 was no better); 1x1 unchanged.
 */
const EXTRA_POLLS_MAX = 2;

export type TurnListener = (failure: Error | null) => void;

export class Turn {
  private open = false;
  /** Set when a statement failed in a way that rolled back the whole transaction. */
  failure: Error | null = null;
  private readonly listeners: TurnListener[] = [];
  private readonly beforeCommitHooks: (() => void)[] = [];
  /** Commands entered so far (all turns), and at the last poll of the open turn. */
  private commands = 0;
  private commandsAtPoll = 0;
  private extraPolls = 0;
  private wrote = false;
  /** A reply waits on this turn's COMMIT (requireDurable): it must be on disk before the replies go. */
  private durable = false;

  constructor(private readonly driver: Driver) {}

  get isOpen(): boolean {
    return this.open;
  }

  onFinish(listener: TurnListener): void {
    this.listeners.push(listener);
  }

  beforeCommit(hook: () => void): void {
    this.beforeCommitHooks.push(hook);
  }

  /** Opens the turn's transaction (once per turn) and schedules its commit. */
  enter(): void {
    this.commands++;
    if (this.open) return;
    this.open = true;
    this.failure = null;
    this.wrote = false;
    this.durable = false;
    try {
      this.driver.begin();
    } catch (err) {
      this.failure = this.driver.failureOf(err) ?? (err as Error);
    }
    this.extraPolls = 0;
    this.commandsAtPoll = this.commands;
    setImmediate(this.finishWhenQuiet);
  }

  /**
   * Commits once an event-loop pass brings no new command, or after EXTRA_POLLS_MAX passes.
   * Under load the commands of several waves of client traffic then share one COMMIT (fewer,
   * larger WAL writes and fsyncs); an idle-ish server commits after one more non-blocking poll.
   */
  private readonly finishWhenQuiet = (): void => {
    if (!this.open) return;
    if (this.commands > this.commandsAtPoll && this.extraPolls < EXTRA_POLLS_MAX) {
      this.extraPolls++;
      this.commandsAtPoll = this.commands;
      setImmediate(this.finishWhenQuiet);
      return;
    }
    this.finish();
  };

  /**
   * True while no statement of this turn has changed a row. A reply produced while the turn is
   * clean shows committed state only, so it stays true even if the turn's COMMIT fails later.
   */
  get clean(): boolean {
    if (!this.wrote && this.open && !this.failure && this.driver.wroteSinceBegin()) this.wrote = true;
    return this.open && !this.failure && !this.wrote;
  }

  /**
   * A reply of this turn claims a change (an id, an ack count, OK): the COMMIT must reach the
   * disk before it goes out. A turn without one (early-answered deliveries, timer work) commits
   * without waiting for the disk; its changes reach it with the next durable commit.
   */
  requireDurable(): void {
    this.durable = true;
  }

  /** Call after a statement threw: if the database rolled back the transaction, the turn has failed. */
  checkAfterError(err: unknown): void {
    if (this.open && !this.failure && !this.driver.inTransaction) this.failure = this.driver.failureOf(err) ?? (err as Error);
  }

  /**
   * Fails the open turn on purpose: it rolls back at finish, and every reply of it that claimed
   * a write becomes the storage error. EXEC uses it when one of its commands hit a storage error
   * the database did not roll back by itself, so a transaction is never half applied.
   */
  fail(err: Error): void {
    if (this.open && !this.failure) this.failure = err;
  }

  /** Commits now (also used at shutdown); safe to call when no turn is open. */
  readonly finish = (): void => {
    if (!this.open) return;
    for (const hook of this.beforeCommitHooks) {
      if (this.failure) break;
      try {
        hook();
      } catch (err) {
        this.failure = this.driver.failureOf(err) ?? (err as Error);
      }
    }
    if (!this.failure) {
      try {
        this.driver.commit(this.durable);
      } catch (err) {
        this.failure = this.driver.failureOf(err) ?? (err as Error);
      }
    }
    if (this.failure) {
      // Also when the database rolled back by itself: the driver undoes what it keeps in memory.
      try {
        this.driver.rollback();
      } catch {
        // The transaction is gone already; nothing left to undo.
      }
    }
    this.open = false;
    const failure = this.failure;
    for (const listener of this.listeners) listener(failure);
  };
}
