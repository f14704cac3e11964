/**
 * A rate limit in bytes per second (a token bucket holding `burstMs` of transfer, one second by
 * default): take(n) resolves once n more bytes fit under the rate on average. Used wherever an
 * operator caps the I/O one job may take from a machine it shares (a tape drive's speed, a restore
 * beside a running database). The burst is how far a limit that was idle lets its user run ahead
 * (a drive's buffer); a benchmark modelling a drive that loses the time it waits sets it small.
 */
export class Throttle {
  private nextFree = 0;

  constructor(
    readonly bytesPerSec: number,
    readonly burstMs = 1000,
  ) {
    if (!(bytesPerSec > 0) || !Number.isFinite(bytesPerSec)) throw new RangeError(`a throttle needs a positive finite rate, got ${bytesPerSec}`);
    if (!(burstMs >= 0) || !Number.isFinite(burstMs)) throw new RangeError(`a throttle needs a finite burst of zero or more milliseconds, got ${burstMs}`);
  }

  async take(bytes: number): Promise<void> {
    const now = performance.now();
    const start = Math.max(now, this.nextFree - this.burstMs);
    this.nextFree = Math.max(this.nextFree, start) + (bytes * 1000) / this.bytesPerSec;
    const wait = this.nextFree - this.burstMs - now;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
