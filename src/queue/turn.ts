// Group commit: everything that runs in one event-loop turn, from every connection and timer,
// shares one SQLite transaction, and listeners hear of the outcome only after COMMIT.
import type { Store } from "../store/store.ts";

export type TurnListener = (failure: Error | null) => void;

export class Turn {
  private open = false;
  /** Set when a statement failed in a way that rolled back the whole transaction. */
  failure: Error | null = null;
  private readonly listeners: TurnListener[] = [];
  private readonly beforeCommitHooks: (() => void)[] = [];
  private changesAtBegin = 0;
  private wrote = false;

  constructor(private readonly store: Store) {}

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
    if (this.open) return;
    this.open = true;
    this.failure = null;
    this.wrote = false;
    try {
      this.store.sql.begin.run();
      this.changesAtBegin = this.changes();
    } catch (err) {
      this.failure = err as Error;
    }
    setImmediate(this.finish);
  }

  private changes(): number {
    return this.store.sql.totalChanges.get()?.n ?? 0;
  }

  /**
   * True while no statement of this turn has changed a row. A reply produced while the turn is
   * clean shows committed state only, so it stays true even if the turn's COMMIT fails later.
   */
  get clean(): boolean {
    if (!this.wrote && this.open && !this.failure && this.changes() !== this.changesAtBegin) this.wrote = true;
    return this.open && !this.failure && !this.wrote;
  }

  /** Call after a statement threw: if SQLite rolled back the transaction, the turn has failed. */
  checkAfterError(err: unknown): void {
    if (this.open && !this.failure && !this.store.inTransaction) this.failure = err as Error;
  }

  /** Commits now (also used at shutdown); safe to call when no turn is open. */
  readonly finish = (): void => {
    if (!this.open) return;
    for (const hook of this.beforeCommitHooks) {
      if (this.failure) break;
      try {
        hook();
      } catch (err) {
        this.failure = err as Error;
      }
    }
    if (!this.failure) {
      try {
        this.store.sql.commit.run();
        this.store.committed();
      } catch (err) {
        this.failure = err as Error;
      }
    }
    if (this.failure && this.store.inTransaction) {
      try {
        this.store.sql.rollback.run();
      } catch {
        // The transaction is gone already; nothing left to undo.
      }
    }
    this.open = false;
    const failure = this.failure;
    for (const listener of this.listeners) listener(failure);
  };
}
