/**
 * A rate limit in bytes per second (a token bucket holding one second): take(n) resolves once n
 * more bytes fit under the rate on average. Used wherever an operator caps the I/O one job may
 * take from a machine it shares (a tape drive's speed, a restore beside a running database).
 */
export class Throttle {
  private nextFree = 0;

  constructor(readonly bytesPerSec: number) {
    if (!(bytesPerSec > 0) || !Number.isFinite(bytesPerSec)) throw new RangeError(`a throttle needs a positive finite rate, got ${bytesPerSec}`);
  }

  async take(bytes: number): Promise<void> {
    const now = performance.now();
    const start = Math.max(now, this.nextFree - 1000);
    this.nextFree = Math.max(this.nextFree, start) + (bytes * 1000) / this.bytesPerSec;
    const wait = this.nextFree - 1000 - now;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
