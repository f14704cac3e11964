import { DataSetReader, SaveRecord } from '@deltaflow/save-format';

interface Cursor {
  readonly reader: DataSetReader;
  /** position in apply order: higher = newer = wins on equal (area, RABN) */
  readonly priority: number;
  rec: SaveRecord | null;
  key: number;
}

/** Heap order: smaller (area, RABN) first; on a tie the newer input first. */
const before = (a: Cursor, b: Cursor): boolean => a.key < b.key || (a.key === b.key && a.priority > b.priority);

/**
 * Streaming k-way merge of verified save readers (given oldest first): yields each (area, RABN)
 * once, from the newest input that holds it, in (area, RABN) order. Memory is one read buffer per
 * input plus a heap of k cursors. A yielded record stays valid until the following call.
 * The merge ends (null) only after every reader verified its trailer.
 *
 * Cursors whose record was consumed (the winner) or skipped (older inputs holding the same block)
 * are advanced lazily at the start of the next call, so the winner's record stays valid meanwhile.
 */
export class KWayMerge {
  private readonly heap: Cursor[] = [];
  private readonly pending: Cursor[];

  private constructor(cursors: Cursor[]) {
    this.pending = cursors;
  }

  /** Sets up one cursor per reader (no record is read yet). */
  static async start(readersOldestFirst: readonly DataSetReader[]): Promise<KWayMerge> {
    return new KWayMerge(readersOldestFirst.map((reader, priority) => ({ reader, priority, rec: null, key: 0 })));
  }

  /** The next winning record, or null when all inputs are exhausted and verified. */
  async next(): Promise<SaveRecord | null> {
    while (this.pending.length > 0) {
      const c = this.pending.pop() as Cursor;
      c.rec = await c.reader.next();
      if (c.rec) this.enter(c);
    }
    return this.take();
  }

  /**
   * Like next() but synchronous: undefined when an input needs I/O (or is at its trailer); then
   * call next(). Merge loops call this first to avoid an await per record.
   */
  tryNext(): SaveRecord | null | undefined {
    while (this.pending.length > 0) {
      const c = this.pending[this.pending.length - 1];
      const r = c.reader.nextBuffered();
      if (!r) return undefined;
      this.pending.pop();
      c.rec = r;
      this.enter(c);
    }
    return this.take();
  }

  private enter(c: Cursor): void {
    const r = c.rec as SaveRecord;
    c.key = r.areaCode * 0x100000000 + r.rabn;
    this.push(c);
  }

  private take(): SaveRecord | null {
    const top = this.pop();
    if (!top) return null;
    // Older inputs holding the same block lose: their record is skipped.
    while (this.heap.length > 0 && this.heap[0].key === top.key) this.pending.push(this.pop() as Cursor);
    this.pending.push(top);
    return top.rec;
  }

  private push(c: Cursor): void {
    const h = this.heap;
    let i = h.push(c) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Cursor | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop() as Cursor;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
