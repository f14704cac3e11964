import type { Throttle } from '@deltaflow/core';
import { DataSetReader, ReaderOptions, SaveRecord } from '@deltaflow/save-format';
import { MergeError } from './errors';
import { chunkFor } from './inputs';
import { KWayMerge } from './kway';

/**
 * One k-way pass: opens `paths` (oldest first), calls `each` with every winning record (newest
 * input per (area, RABN), in (area, RABN) order) and returns once every input verified to its
 * trailer. `each` runs synchronously per record; when it returns a promise (a full write buffer)
 * the pass waits for it. The record handed to `each` is valid only until `each` returns (or its
 * promise settles). The signal is checked before every record.
 */
export async function runPass(
  paths: readonly string[],
  each: (r: SaveRecord) => void | Promise<void>,
  opts: { reader?: ReaderOptions; signal?: AbortSignal; progress?: PassProgress; interrupted?: string; throttle?: Throttle },
): Promise<void> {
  const readers: DataSetReader[] = [];
  const chunkBytes = opts.reader?.chunkBytes ?? chunkFor(paths.length);
  try {
    for (const p of paths) readers.push(await DataSetReader.open(p, { ...opts.reader, chunkBytes }));
    opts.progress?.attach(readers);
    const merge = await KWayMerge.start(readers);
    const signal = opts.signal;
    let paced = 0;
    for (let n = 1; ; n++) {
      if (signal?.aborted) throw new MergeError('INTERRUPTED', opts.interrupted ?? 'stopped on request');
      // Synchronous fast path first: an await per record would cost more than the copy itself.
      let r = merge.tryNext();
      if (r === undefined) r = await merge.next();
      if (!r) break;
      const w = each(r);
      if (w) await w;
      if ((n & 1023) === 0) {
        opts.progress?.tick();
        if (opts.throttle) {
          // input bytes read so far, held to the operator's rate
          let read = 0;
          for (const x of readers) read += x.bytesConsumed;
          await opts.throttle.take(read - paced);
          paced = read;
        }
        // Let the event loop run (I/O is synchronous by default): every 1024 blocks, a few ms.
        await yieldToLoop();
      }
    }
    opts.progress?.detach();
  } finally {
    for (const r of readers) await r.close();
  }
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Progress in input bytes over one or more passes: `done` counts the bytes the readers of the
 * current pass consumed plus everything earlier passes read; `total` is set by the caller (and may
 * be revised, e.g. once a cascade's temporary data sets have their real sizes).
 */
export class PassProgress {
  private earlier = 0;
  private readers: readonly DataSetReader[] = [];
  private last = -1;

  constructor(
    public total: number,
    private readonly report?: (p: { bytesDone: number; bytesTotal: number }) => void,
  ) {}

  get done(): number {
    let n = this.earlier;
    for (const r of this.readers) n += r.bytesConsumed;
    return n;
  }

  attach(readers: readonly DataSetReader[]): void {
    this.readers = readers;
  }

  /** The current pass ended: its readers' bytes count as done. */
  detach(): void {
    this.earlier = this.done;
    this.readers = [];
    this.tick();
  }

  /** Adds bytes done without reading them (e.g. inputs a resumed restore skips). */
  skip(bytes: number): void {
    this.earlier += bytes;
  }

  tick(force = false): void {
    if (!this.report) return;
    const done = Math.min(this.done, this.total);
    if (!force && done === this.last) return;
    this.last = done;
    this.report({ bytesDone: done, bytesTotal: this.total });
  }
}
