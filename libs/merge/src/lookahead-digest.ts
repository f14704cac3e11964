import { BlockDigest } from '@deltaflow/blockdb';
import { areaCode, type Area, type BlockRange } from '@deltaflow/blocks';
import { DataSetReader, type ReaderOptions, type SaveRecord } from '@deltaflow/save-format';
import { chunkFor } from './inputs';
import { KWayMerge } from './kway';

const keyOf = (area: Area, rabn: number) => areaCode(area) * 0x100000000 + rabn;

/**
 * The digest a restore will end with, computed while phase 1 writes the full save: each used
 * block's image is the newest of the full save (fed by phase 1) and the deltas (read here, ahead,
 * in step), hashed on a worker thread (BlockDigest). Saves reading the whole database back after
 * phase 2. Valid only if phase 2 then applies exactly these deltas, and only if every used block
 * was hashed once, in order; otherwise (a used block in no input, or any error reading a delta:
 * phase 2 will report it) `finish` gives null and the caller digests the database instead.
 */
export class LookaheadDigest {
  private readonly digest = new BlockDigest();
  private peeked: SaveRecord | null = null;
  private peekKey = Infinity;
  private failed = false;
  private range = 0;
  private next: number; // next used RABN expected in ranges[range]

  private constructor(
    private readonly readers: DataSetReader[],
    private readonly merge: KWayMerge | null,
    private readonly used: readonly BlockRange[],
  ) {
    this.next = used[0]?.from ?? 0;
  }

  /** Opens the deltas (oldest first) and reads the first record. */
  static async open(deltas: readonly string[], used: readonly BlockRange[], reader?: ReaderOptions): Promise<LookaheadDigest> {
    const readers: DataSetReader[] = [];
    let la: LookaheadDigest;
    try {
      for (const p of deltas) readers.push(await DataSetReader.open(p, { ...reader, chunkBytes: reader?.chunkBytes ?? chunkFor(deltas.length) }));
      la = new LookaheadDigest(readers, readers.length ? await KWayMerge.start(readers) : null, used);
    } catch {
      for (const r of readers) await r.close();
      la = new LookaheadDigest([], null, used);
      la.failed = true;
      return la;
    }
    await la.advance();
    return la;
  }

  private async advance(): Promise<void> {
    if (!this.merge || this.failed) {
      this.peeked = null;
      this.peekKey = Infinity;
      return;
    }
    try {
      let r = this.merge.tryNext();
      if (r === undefined) r = await this.merge.next();
      this.peeked = r;
      this.peekKey = r ? r.areaCode * 0x100000000 + r.rabn : Infinity;
    } catch {
      this.fail();
    }
  }

  private fail(): void {
    this.failed = true;
    this.peeked = null;
    this.peekKey = Infinity;
  }

  /** Hashes the block if it is the next used one; a used block skipped means the digest cannot be known here. */
  private hash(area: Area, rabn: number, image: Uint8Array): void {
    if (this.failed) return;
    const r = this.used[this.range];
    if (!r || areaCode(area) < areaCode(r.area) || (area === r.area && rabn < this.next)) return; // not a used block
    if (area !== r.area || rabn !== this.next) return this.fail();
    this.digest.add(area, rabn, image);
    if (++this.next > r.to) this.next = this.used[++this.range]?.from ?? 0;
  }

  /** The full save's next record (phase 1 order); returns a promise only when reading ahead needs I/O. */
  feed(area: Area, rabn: number, image: Uint8Array): void | Promise<void> {
    if (this.failed) return;
    const key = keyOf(area, rabn);
    if (this.peekKey < key) return this.drainBelow(key).then(() => this.feed(area, rabn, image));
    if (this.peekKey === key) {
      const p = this.peeked as SaveRecord;
      this.hash(p.area, p.rabn, p.image);
      return this.step();
    }
    this.hash(area, rabn, image);
  }

  private step(): void | Promise<void> {
    let r: SaveRecord | null | undefined;
    try {
      r = this.merge?.tryNext();
    } catch {
      return this.fail();
    }
    if (r === undefined) return this.advance();
    this.peeked = r;
    this.peekKey = r ? r.areaCode * 0x100000000 + r.rabn : Infinity;
  }

  private async drainBelow(key: number): Promise<void> {
    while (!this.failed && this.peekKey < key) {
      const p = this.peeked as SaveRecord;
      this.hash(p.area, p.rabn, p.image);
      await this.advance();
    }
  }

  /** After the full save's last record: the digest, or null when it cannot be known here. */
  async finish(): Promise<string | null> {
    try {
      await this.drainBelow(Infinity);
      if (this.failed || this.range < this.used.length) {
        await this.digest.abort();
        return null;
      }
      return await this.digest.finish();
    } finally {
      for (const r of this.readers) await r.close();
    }
  }

  async abort(): Promise<void> {
    await this.digest.abort();
    for (const r of this.readers) await r.close();
  }
}
