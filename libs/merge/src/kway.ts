import { SaveReader, SaveRecord } from '@deltaflow/save-format';

interface Cursor {
  readonly reader: SaveReader;
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
 * input plus a heap of k cursors. A yielded record stays valid until the following next() call.
 * The merge ends (null) only after every reader verified its trailer.
 */
export class KWayMerge {
  private readonly heap: Cursor[] = [];
  private winner: Cursor | null = null;

  private constructor(private readonly cursors: readonly Cursor[]) {}

  /** Primes one cursor per reader. */
  static async start(readersOldestFirst: readonly SaveReader[]): Promise<KWayMerge> {
    const m = new KWayMerge(readersOldestFirst.map((reader, priority) => ({ reader, priority, rec: null, key: 0 })));
    for (const c of m.cursors) if (await advance(c)) m.push(c);
    return m;
  }

  /** The next winning record, or null when all inputs are exhausted and verified. */
  async next(): Promise<SaveRecord | null> {
    // The previous winner's record was in use by the caller until now: only now move its reader on.
    if (this.winner) {
      const w = this.winner;
      this.winner = null;
      if (await advance(w)) this.push(w);
    }
    const top = this.pop();
    if (!top) return null;
    // Older inputs holding the same block lose: skip their record.
    while (this.heap.length > 0 && this.heap[0].key === top.key) {
      const loser = this.pop() as Cursor;
      if (await advance(loser)) this.push(loser);
    }
    this.winner = top;
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

async function advance(c: Cursor): Promise<boolean> {
  c.rec = await c.reader.next();
  if (!c.rec) return false;
  c.key = c.rec.areaCode * 0x100000000 + c.rec.rabn;
  return true;
}
