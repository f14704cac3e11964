/**
 * Answers that arrive on the log (a sync point, a DLOG capture, a DSIM acquisition or snapshot)
 * and the operations waiting for them, by key (usually a correlation id). An answer that came
 * before anyone waited is kept, so the order of "ask" and "answer" does not matter; a waiter
 * gives up after its timeout; once closed (the service stops), every waiter fails at once.
 */
export class Answers<T> {
  private readonly known = new Map<string, T>();
  private readonly waiters = new Map<string, { resolve(v: T): void; reject(e: Error): void }>();
  /** set when the service stops: an operation that starts waiting afterwards fails at once */
  private closed?: Error;

  answer(key: string, value: T): void {
    this.known.set(key, value);
    this.waiters.get(key)?.resolve(value);
  }

  has(key: string): boolean {
    return this.known.has(key);
  }

  /** The answer for `key`, once it arrives; `timeout()` is thrown after `ms`. */
  async wait(key: string, ms: number, timeout: () => Error): Promise<T> {
    const known = this.known.get(key);
    if (known !== undefined) return known;
    if (this.closed) throw this.closed;
    const answered = new Promise<T>((resolve, reject) => this.waiters.set(key, { resolve, reject }));
    try {
      return await within(answered, ms, timeout);
    } finally {
      this.waiters.delete(key);
    }
  }

  /** Fails every waiter now and every later one. */
  close(err: Error): void {
    this.closed = err;
    for (const w of this.waiters.values()) w.reject(err);
  }
}

/** `p`, or `timeout()` after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(timeout()), ms)))]);
  } finally {
    clearTimeout(t);
  }
}
