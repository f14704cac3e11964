/**
 * The multiplexer's memory bound: superblock payloads held between Kafka and the devices (all
 * streams). Beyond the limit the spool pauses the partition and Kafka holds the data; it resumes
 * once held bytes fall below three quarters of the limit.
 */
import { Deferred } from './client-file';

export class MemoryBudget {
  private held = 0;
  private waiter: Deferred | null = null;

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.held;
  }

  /** nearly full: devices write partial runs rather than wait for K superblocks */
  get pressure(): boolean {
    return this.held > this.limit * 0.9;
  }

  /** would `n` more bytes exceed the limit? (something is always admitted when nothing is held) */
  wouldExceed(n: number): boolean {
    return this.held + n > this.limit && this.held > 0;
  }

  take(n: number): void {
    this.held += n;
  }

  /** Gives bytes back (0: just re-checks whether waiters may go on). */
  free(n: number): void {
    this.held = Math.max(0, this.held - n);
    if (this.waiter && this.held < this.limit * 0.75) {
      this.waiter.resolve();
      this.waiter = null;
    }
  }

  /** Resolves once enough was freed. */
  freed(): Promise<void> {
    this.waiter ??= new Deferred();
    return this.waiter.promise;
  }
}
