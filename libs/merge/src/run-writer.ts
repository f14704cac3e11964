import type { BlockDatabase } from '@deltaflow/blockdb';
import { normalizeRanges, type Area, type BlockRange } from '@deltaflow/blocks';

/** Bytes gathered per write: consecutive blocks go out in one pwrite of up to this size (cache-sized, see ReaderOptions.chunkBytes). */
const RUN_BYTES = 256 << 10;

/**
 * Gathers consecutive blocks into runs and writes each run with one pwrite: blocking by default
 * (io 'sync'), or on the thread pool while the next run fills a second buffer (io 'async').
 * Images are copied in, so the caller's record may change once add() returns (or its promise
 * settles). Every run written is recorded in `written`.
 */
export class RunWriter {
  private buf = Buffer.allocUnsafe(RUN_BYTES);
  private spare = Buffer.allocUnsafe(RUN_BYTES);
  private used = 0;
  private area: Area = 'ASSO';
  private from = 0;
  private next = 0;
  private pending: Promise<void> | null = null;

  constructor(
    private readonly db: BlockDatabase,
    private readonly written: RangeCollector,
    private readonly io: 'sync' | 'async' = 'sync',
  ) {}

  /** Adds one block; returns a promise only when it had to wait for the previous write. */
  add(area: Area, rabn: number, image: Uint8Array): void | Promise<void> {
    const len = image.length;
    if (this.used > 0 && (area !== this.area || rabn !== this.next || this.used + len > this.buf.length)) {
      const w = this.startWrite();
      if (w) return w.then(() => this.put(area, rabn, image));
    }
    this.put(area, rabn, image);
  }

  private put(area: Area, rabn: number, image: Uint8Array): void {
    if (this.used === 0) {
      this.area = area;
      this.from = rabn;
      if (image.length > this.buf.length) this.buf = Buffer.allocUnsafe(image.length);
    }
    this.buf.set(image, this.used);
    this.used += image.length;
    this.next = rabn + 1;
  }

  /** Hands the current run to the thread pool; returns the wait for the one before, if still running. */
  private startWrite(): Promise<void> | undefined {
    if (this.pending) {
      const before = this.pending;
      this.pending = null;
      return before.then(() => {
        this.startWrite();
      });
    }
    if (this.used === 0) return undefined;
    const run = this.buf.subarray(0, this.used);
    if (this.io === 'sync') {
      this.db.writeBlocks(this.area, this.from, run);
      this.written.add(this.area, this.from, this.next - 1);
      this.used = 0;
      return undefined;
    }
    const w = this.db.writeBlocksAsync(this.area, this.from, run);
    w.catch(() => undefined); // surfaced at the next await of `pending`
    this.pending = w;
    this.written.add(this.area, this.from, this.next - 1);
    [this.buf, this.spare] = [this.spare, this.buf];
    this.used = 0;
    return undefined;
  }

  /** Writes what is gathered and waits for every write. */
  async flush(): Promise<void> {
    await this.startWrite();
    await this.startWrite();
    const p = this.pending;
    this.pending = null;
    await p;
  }

  /** Waits for a write in flight, ignoring its outcome (cleanup after a failure). */
  async settle(): Promise<void> {
    await this.pending?.catch(() => undefined);
    this.pending = null;
  }
}

/** Block ranges as they are written, joined on the fly (sorted and joined by ranges()). */
export class RangeCollector {
  private list: BlockRange[];

  constructor(initial: readonly BlockRange[] = []) {
    this.list = [...initial];
  }

  add(area: Area, from: number, to: number): void {
    const last = this.list[this.list.length - 1];
    if (last && last.area === area && from === last.to + 1) this.list[this.list.length - 1] = { area, from: last.from, to };
    else this.list.push({ area, from, to });
    if (this.list.length > 1 << 16) this.list = normalizeRanges(this.list);
  }

  ranges(): BlockRange[] {
    this.list = normalizeRanges(this.list);
    return [...this.list];
  }
}
