/**
 * Group-commit fsync. Produce handlers mark what they wrote as dirty and await `flush()`;
 * all flush requests that arrive while one fsync round is running are served together by
 * the next round, so N concurrent acks=-1 produces cost about two rounds of fsyncs, not N.
 */
export interface Syncable {
  syncAsync(): Promise<void>;
}

export class GroupCommitFlusher {
  private dirty = new Set<Syncable>();
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private running = false;
  rounds = 0;

  markDirty(s: Syncable): void {
    this.dirty.add(s);
  }

  /** Resolves once everything marked dirty before this call is on stable storage. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.running) {
        this.running = true;
        // Let the other produces already queued in this tick join the round.
        setImmediate(() => void this.round());
      }
    });
  }

  /** Forgets a file about to be closed (its data is fsynced by the caller if needed). */
  forget(s: Syncable): void {
    this.dirty.delete(s);
  }

  private async round(): Promise<void> {
    const targets = [...this.dirty];
    const waiters = this.waiting;
    this.dirty = new Set();
    this.waiting = [];
    this.rounds++;
    let error: Error | null = null;
    try {
      await Promise.all(targets.map((t) => t.syncAsync()));
    } catch (e) {
      error = e as Error;
      for (const t of targets) this.dirty.add(t);
    }
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
    if (this.waiting.length > 0) {
      setImmediate(() => void this.round());
    } else {
      this.running = false;
    }
  }
}
