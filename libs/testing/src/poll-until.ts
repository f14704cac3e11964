/** What `pollUntil` waits for at most, how often it asks, and what a timeout adds to its error (e.g. a service's last log lines). */
export interface PollOptions {
  /** default 30 s */
  readonly ms?: number;
  /** default 100 ms */
  readonly everyMs?: number;
  readonly detail?: () => string;
}

/** Asks `probe` until it answers something other than undefined, and returns that; after `ms`, fails naming `what`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, o: PollOptions = {}): Promise<T> {
  const end = Date.now() + (o.ms ?? 30_000);
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${o.detail ? `\n${o.detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, o.everyMs ?? 100));
  }
}
