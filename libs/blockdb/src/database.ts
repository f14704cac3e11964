import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AreaFile } from './area-file';
import { digestOnWorker } from './digest-worker';
import { BlockDbError } from './errors';
import { AREAS, areaCode, assertArea, usedRanges, validateGeometry, type Area, type BlockImage, type BlockRange, type Geometry } from '@deltaflow/blocks';
import { AREA_FILES, HEADER_FILE, readHeader, validateDbid, writeHeader } from './header';

export interface CreateOptions {
  readonly dbid: number;
  readonly geometry: Geometry;
  /** fdatasync after every block write (slow; restore uses flush() at checkpoints instead) */
  readonly syncWrites?: boolean;
}

export interface OpenOptions {
  readonly readOnly?: boolean;
  readonly syncWrites?: boolean;
}

/** Bytes per read when iterating blocks: small enough to stay in the CPU cache (see @deltaflow/save-format's reader). */
const CHUNK = 256 << 10;

/**
 * A block database directory: header.json + ASSO + DATA area files.
 *
 * Concurrency: all I/O is synchronous positional pread/pwrite of whole blocks, so inside one
 * Node process a read never overlaps a write and never sees a torn block. Readers in OTHER
 * processes get no such guarantee from Linux (buffered reads are not serialized against
 * concurrent writes), and every reader may see blocks newer than any sync point it took:
 * the online-save flow (DESIGN) tolerates both, because the DSIM supplies the final image of
 * every block changed between the start and end sync.
 */
export class BlockDatabase {
  private readonly areas: Record<Area, AreaFile>;
  private currentGeometry: Geometry;
  private used: readonly BlockRange[];

  private constructor(
    readonly dir: string,
    readonly dbid: number,
    geometry: Geometry,
    asso: AreaFile,
    data: AreaFile,
    readonly readOnly: boolean,
  ) {
    this.areas = { ASSO: asso, DATA: data };
    this.currentGeometry = geometry;
    this.used = usedRanges(geometry);
  }

  /** The database's shape as its header records it. */
  get geometry(): Geometry {
    return this.currentGeometry;
  }

  /** admin blocks + file extents, sorted and joined: what a full save contains */
  get usedRanges(): readonly BlockRange[] {
    return this.used;
  }

  /**
   * Records a new file layout in the header (atomically): e.g. files restored to other RABNs
   * (restore FMOVE). The areas (block sizes and counts) and maxFiles must stay as they are
   * (VALIDATION otherwise); blocks are not touched: blocks leaving every extent become free space.
   */
  setGeometry(geometry: Geometry): void {
    if (this.readOnly) throw new BlockDbError('READ_ONLY', `database ${this.dir} is open read-only`);
    const g = validateGeometry(geometry);
    const now = this.currentGeometry;
    if (
      g.maxFiles !== now.maxFiles ||
      g.asso.blockSize !== now.asso.blockSize ||
      g.asso.blocks !== now.asso.blocks ||
      g.data.blockSize !== now.data.blockSize ||
      g.data.blocks !== now.data.blocks
    )
      throw new BlockDbError('VALIDATION', 'a new geometry may change file extents only, not the areas or maxFiles');
    writeHeader(this.dir, { dbid: this.dbid, geometry: g });
    this.currentGeometry = g;
    this.used = usedRanges(g);
  }

  /** Creates a new database in `dir` (created if missing); ALREADY_EXISTS if one is there. */
  static create(dir: string, opts: CreateOptions): BlockDatabase {
    const dbid = validateDbid(opts.dbid);
    const geometry = validateGeometry(opts.geometry);
    fs.mkdirSync(dir, { recursive: true });
    if (fs.existsSync(path.join(dir, HEADER_FILE))) throw new BlockDbError('ALREADY_EXISTS', `a database exists at ${dir}`);
    // Area files first, header last: a crash before the rename leaves no header, i.e. no database.
    const asso = AreaFile.create(path.join(dir, AREA_FILES.ASSO), 'ASSO', geometry.asso, !!opts.syncWrites);
    const data = AreaFile.create(path.join(dir, AREA_FILES.DATA), 'DATA', geometry.data, !!opts.syncWrites);
    writeHeader(dir, { dbid, geometry });
    return new BlockDatabase(dir, dbid, geometry, asso, data, false);
  }

  /** Opens the database in `dir`; NOT_FOUND / CORRUPT_HEADER when it is missing or inconsistent. */
  static open(dir: string, opts: OpenOptions = {}): BlockDatabase {
    const { dbid, geometry } = readHeader(dir);
    const ro = !!opts.readOnly;
    const asso = AreaFile.open(path.join(dir, AREA_FILES.ASSO), 'ASSO', geometry.asso, ro, !!opts.syncWrites);
    let data: AreaFile;
    try {
      data = AreaFile.open(path.join(dir, AREA_FILES.DATA), 'DATA', geometry.data, ro, !!opts.syncWrites);
    } catch (e) {
      asso.close();
      throw e;
    }
    return new BlockDatabase(dir, dbid, geometry, asso, data, ro);
  }

  /** True when `dir` holds a database header. */
  static exists(dir: string): boolean {
    return fs.existsSync(path.join(dir, HEADER_FILE));
  }

  /** Block size of an area. */
  blockSize(area: Area): number {
    assertArea(area);
    return this.areas[area].geometry.blockSize;
  }

  /** Number of blocks of an area. */
  blockCount(area: Area): number {
    assertArea(area);
    return this.areas[area].geometry.blocks;
  }

  /** Reads one block; pass `into` (exactly one block long) to avoid an allocation. */
  readBlock(area: Area, rabn: number, into?: Uint8Array): Uint8Array {
    assertArea(area);
    const bs = this.areas[area].geometry.blockSize;
    if (into && into.length !== bs)
      throw new BlockDbError('IMAGE_LENGTH', `${area} buffer of ${into.length} bytes, block size is ${bs}`);
    return this.areas[area].read(rabn, into ?? Buffer.allocUnsafe(bs));
  }

  /** Reads consecutive blocks from `rabn` filling `into` (a multiple of the block size). */
  readBlocks(area: Area, rabn: number, into: Uint8Array): Uint8Array {
    assertArea(area);
    return this.areas[area].read(rabn, into);
  }

  /** Writes one block; IMAGE_LENGTH unless the image is exactly one block. */
  writeBlock(area: Area, rabn: number, image: Uint8Array): void {
    assertArea(area);
    const bs = this.areas[area].geometry.blockSize;
    if (image.length !== bs) throw new BlockDbError('IMAGE_LENGTH', `${area} image of ${image.length} bytes, block size is ${bs}`);
    this.writeBlocks(area, rabn, image);
  }

  /** Writes consecutive blocks from `rabn` in one pwrite (images concatenated). */
  writeBlocks(area: Area, rabn: number, images: Uint8Array): void {
    assertArea(area);
    if (this.readOnly) throw new BlockDbError('READ_ONLY', `database ${this.dir} is open read-only`);
    this.areas[area].write(rabn, images);
  }

  /**
   * Writes consecutive blocks from `rabn` without blocking the event loop (pwrite on the thread
   * pool); `images` must stay unchanged until the promise settles.
   */
  writeBlocksAsync(area: Area, rabn: number, images: Uint8Array): Promise<void> {
    assertArea(area);
    if (this.readOnly) throw new BlockDbError('READ_ONLY', `database ${this.dir} is open read-only`);
    return this.areas[area].writeAsync(rabn, images);
  }

  /** fdatasyncs both area files on the thread pool (the event loop keeps running). */
  async flushAsync(): Promise<void> {
    await Promise.all(AREAS.map((a) => this.areas[a].flushAsync()));
  }

  /** Yields every used block in (area, RABN) order, reading up to `chunkBytes` per pread; each image is valid until the next step. */
  *usedBlocks(chunkBytes = CHUNK): Generator<BlockImage> {
    for (const r of this.usedRanges) yield* this.blocksIn(r, chunkBytes);
  }

  /** Yields the blocks of one range in RABN order (images valid until the next step). */
  *blocksIn(r: BlockRange, chunkBytes = CHUNK): Generator<BlockImage> {
    assertArea(r.area);
    const bs = this.areas[r.area].geometry.blockSize;
    // no bigger than the range: a delta reads many one-block ranges
    const per = Math.max(1, Math.min(Math.floor(chunkBytes / bs), r.to - r.from + 1));
    const buf = Buffer.allocUnsafe(per * bs);
    for (let rabn = r.from; rabn <= r.to; rabn += per) {
      const n = Math.min(per, r.to - rabn + 1);
      const view = buf.subarray(0, n * bs);
      this.areas[r.area].read(rabn, view);
      for (let i = 0; i < n; i++) yield { area: r.area, rabn: rabn + i, image: view.subarray(i * bs, (i + 1) * bs) };
    }
  }

  /**
   * SHA-256 (hex) of the used contents: for every used block in (area, RABN) order, the bytes
   * area code (u8), RABN (u32 LE), image. Equal digests = equal used contents, however produced.
   * `geometry` (same areas) names the used blocks instead of the header's, e.g. the geometry a
   * restore is about to record.
   */
  digest(geometry: Geometry = this.currentGeometry): string {
    const used = geometry === this.currentGeometry ? this.used : usedRanges(validateGeometry(geometry));
    return digestBlocks((function* (db: BlockDatabase) {
      for (const r of used) yield* db.blocksIn(r, CHUNK);
    })(this));
  }

  /**
   * The same digest as digest(), computed on a worker thread that reads the area files itself:
   * the calling thread stays free (e.g. to flush meanwhile). Blocks written by this process before
   * the call are seen (same page cache); do not write while it runs.
   */
  async digestAsync(geometry: Geometry = this.currentGeometry): Promise<string> {
    const used = geometry === this.currentGeometry ? this.used : usedRanges(validateGeometry(geometry));
    if (this.areas.ASSO.closed) throw new BlockDbError('CLOSED', `database ${this.dir} is closed`);
    return digestOnWorker(this.dir, this.currentGeometry, used, CHUNK);
  }

  /**
   * Every block of both areas zero, as in a newly created database (a full restore of the whole
   * database formats it first, so that no block of the old contents survives where the save has none).
   */
  format(): void {
    if (this.readOnly) throw new BlockDbError('READ_ONLY', `${this.dir} is open read-only`);
    for (const a of AREAS) this.areas[a].format();
  }

  /** fsyncs both area files. */
  flush(): void {
    for (const a of AREAS) this.areas[a].flush();
  }

  /** Closes both area files (flushes first unless read-only). */
  close(): void {
    if (!this.readOnly) this.flush();
    for (const a of AREAS) this.areas[a].close();
  }
}

/** The database digest over any (area, RABN)-ordered block sequence (see BlockDatabase.digest). */
export function digestBlocks(blocks: Iterable<BlockImage>): string {
  const h = createHash('sha256');
  const key = Buffer.alloc(5);
  for (const b of blocks) {
    key[0] = areaCode(b.area);
    key.writeUInt32LE(b.rabn, 1);
    h.update(key);
    h.update(b.image);
  }
  return h.digest('hex');
}
