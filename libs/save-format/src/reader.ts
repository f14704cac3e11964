import * as fs from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { crc32c } from '@deltaflow/checksum';
import { Area, areaFromCode } from '@deltaflow/blocks';
import type { DataSetDescriptor } from '@deltaflow/dsid';
import { RecordDigest } from './digest';
import { SaveFormatError } from './errors';
import {
  decodeHeader,
  decodeHeaderPrefix,
  HEADER_PREFIX,
  RECORD_HEAD,
  RECORD_OVERHEAD,
  RECORD_TAG,
  SaveHeader,
  SaveTrailer,
  toDescriptor,
  TRAILER_SIZE,
  TRAILER_TAG,
} from './header';

/**
 * One verified block record. `image` and `raw` are views into the reader's buffer, valid only
 * until the next call to next() on the same reader: copy them to keep them.
 */
export interface SaveRecord {
  readonly area: Area;
  /** 1 = ASSO, 2 = DATA */
  readonly areaCode: number;
  readonly rabn: number;
  readonly image: Uint8Array;
  /** the whole record as stored (head, image, CRC), for verbatim copying */
  readonly raw: Uint8Array;
  readonly crc: number;
}

export interface ReaderOptions {
  /**
   * bytes per read; default 256 KiB (raised to hold at least two records). Small reads keep the
   * buffer in the CPU cache while its records are checked and copied on: on this project's
   * machines 256 KiB reads and writes move a data set 3-4x faster than 1-4 MiB ones (test/bench/merge).
   */
  readonly chunkBytes?: number;
  /** reads kept in flight ahead of the one being parsed (async I/O only); default 2 (memory: (1 + readAhead) chunks) */
  readonly readAhead?: number;
  /**
   * 'sync' (default): each chunk is read with a blocking pread on the calling thread when it is
   * needed: no thread hand-off, the chunk is still in this core's cache when its records are
   * checked (a 256 KiB pread blocks for well under a millisecond; callers yield to the event loop
   * between chunks, as @deltaflow/merge's passes do). 'async': reads run ahead on libuv's thread
   * pool (`readAhead` of them); slower on the 2-core machines measured.
   */
  readonly io?: 'sync' | 'async';
}

/** Default bytes per read (ReaderOptions.chunkBytes). */
export const DEFAULT_CHUNK = 256 << 10;

/** Reads and verifies only the header of the data set at `file` (no block is read). */
export async function readSaveHeader(file: string): Promise<SaveHeader> {
  const fh = await openOrThrow(file);
  try {
    const { byteLength: _len, ...header } = await readHeaderFrom(fh);
    return header;
  } finally {
    await fh.close();
  }
}

/** The DSID-rule descriptor of the data set at `file` (name = file), from its header only. */
export async function describeDataSet(file: string): Promise<DataSetDescriptor> {
  return toDescriptor(file, await readSaveHeader(file));
}

async function openOrThrow(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (e: any) {
    if (e?.code === 'ENOENT') throw new SaveFormatError('VALIDATION', `no data set at ${file}`);
    throw e;
  }
}

async function readHeaderFrom(fh: FileHandle): Promise<SaveHeader & { readonly byteLength: number }> {
  const prefix = Buffer.alloc(HEADER_PREFIX);
  const { bytesRead } = await fh.read(prefix, 0, HEADER_PREFIX, 0);
  const len = decodeHeaderPrefix(prefix.subarray(0, bytesRead));
  const all = Buffer.alloc(HEADER_PREFIX + len + 4);
  prefix.copy(all);
  const r = await fh.read(all, HEADER_PREFIX, len + 4, HEADER_PREFIX);
  const h = decodeHeader(all.subarray(0, HEADER_PREFIX + r.bytesRead));
  return Object.assign(h, { byteLength: all.length });
}

/**
 * Streaming reader of one save data set. next() yields a record only after its CRC, its fields
 * and its order were checked; the final next() (returning null) verifies the trailer: counts,
 * byte total, digest, and that nothing follows. Any failure throws TRUNCATED or CORRUPT_DATA with
 * the byte position, so a consumer must treat its output as good only once next() returned null.
 */
export class DataSetReader implements AsyncIterable<SaveRecord> {
  /** the buffer records are parsed from: `pre` bytes of room for a carried tail, then one chunk */
  private buf: Buffer;
  /** free buffers and reads in flight (each into its own buffer, at successive file offsets) */
  private readonly free: Buffer[] = [];
  private readonly inflight: { buf: Buffer; fileOffset: number; done: Promise<number> }[] = [];
  private readonly pre: number;
  private readonly chunk: number;
  private readOffset: number; // file offset of the next byte to fetch
  private pos: number; // next unread byte in buf
  private end: number; // bytes of buf holding file data
  private bufFileOffset: number; // file offset of buf[0]
  private eof = false;
  private lastKey = 0;
  private assoRecords = 0;
  private dataRecords = 0;
  private recordBytes = 0;
  private readonly digest = new RecordDigest();
  private verified: SaveTrailer | null = null;
  private closed = false;
  private readonly sizes: readonly [number, number];
  private readonly blocks: readonly [number, number];

  private constructor(
    readonly path: string,
    readonly header: SaveHeader,
    private readonly fh: FileHandle,
    headerBytes: number,
    chunk: number,
    depth: number,
    private readonly syncIo: boolean,
  ) {
    // Each buffer: room for an unread tail (< one record or trailer) in front of a whole chunk, so
    // a chunk is read straight into place and only a record's tail is ever copied.
    this.pre = Math.max(...[header.geometry.asso.blockSize, header.geometry.data.blockSize].map((b) => b + RECORD_OVERHEAD), TRAILER_SIZE);
    this.chunk = chunk;
    this.buf = Buffer.allocUnsafe(this.pre + chunk);
    for (let i = 0; i < depth; i++) this.free.push(Buffer.allocUnsafe(this.pre + chunk));
    this.pos = this.pre;
    this.end = this.pre;
    this.bufFileOffset = headerBytes - this.pre;
    this.readOffset = headerBytes;
    this.sizes = [header.geometry.asso.blockSize, header.geometry.data.blockSize];
    this.blocks = [header.geometry.asso.blocks, header.geometry.data.blocks];
  }

  /** Opens `file` and verifies its header; no block is read yet (the first chunks are requested). */
  static async open(file: string, opts: ReaderOptions = {}): Promise<DataSetReader> {
    const fh = await openOrThrow(file);
    try {
      const h = await readHeaderFrom(fh);
      const { byteLength, ...header } = h;
      const maxRecord = Math.max(header.geometry.asso.blockSize, header.geometry.data.blockSize) + RECORD_OVERHEAD;
      const sync = (opts.io ?? 'sync') === 'sync';
      const depth = sync ? 1 : Math.max(1, Math.min(8, opts.readAhead ?? 2));
      const r = new DataSetReader(file, header, fh, byteLength, Math.max(opts.chunkBytes ?? DEFAULT_CHUNK, 2 * maxRecord, TRAILER_SIZE), depth, sync);
      r.fill();
      return r;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** The verified trailer, once next() has returned null. */
  get trailer(): SaveTrailer | null {
    return this.verified;
  }

  /** File offset of the next byte not yet consumed (the file's size once the trailer verified): for progress reports. */
  get bytesConsumed(): number {
    return this.bufFileOffset + this.pos;
  }

  /** Starts reads into every free buffer (until the end of the file is known). */
  private fill(): void {
    if (this.syncIo) return;
    const fd = this.fh.fd;
    while (this.free.length > 0 && !this.eof) {
      const buf = this.free.pop() as Buffer;
      const fileOffset = this.readOffset;
      this.readOffset += this.chunk;
      const done = new Promise<number>((resolve, reject) =>
        fs.read(fd, buf, this.pre, this.chunk, fileOffset, (e, n) => (e ? reject(e) : resolve(n))),
      );
      done.catch(() => undefined); // surfaced when awaited in ensure()
      this.inflight.push({ buf, fileOffset, done });
    }
  }

  /** Makes at least `n` unread bytes available; false if the file ends first. */
  private async ensure(n: number): Promise<boolean> {
    while (this.end - this.pos < n && !this.eof) {
      let next = this.inflight.shift();
      if (!next && this.syncIo && this.free.length > 0) {
        const buf = this.free.pop() as Buffer;
        next = { buf, fileOffset: this.readOffset, done: Promise.resolve(fs.readSync(this.fh.fd, buf, this.pre, this.chunk, this.readOffset)) };
        this.readOffset += this.chunk;
      }
      if (!next) break;
      let got = await next.done;
      // A short read before the end of the file: read the rest of the chunk synchronously.
      while (got > 0 && got < this.chunk) {
        const more = fs.readSync(this.fh.fd, next.buf, this.pre + got, this.chunk - got, next.fileOffset + got);
        if (more === 0) break;
        got += more;
      }
      if (got < this.chunk) {
        // The end of the file: later reads (already in flight) return nothing.
        this.eof = true;
      }
      // Carry the unread tail in front of the new chunk; views handed out earlier become invalid.
      const tail = this.end - this.pos;
      this.buf.copy(next.buf, this.pre - tail, this.pos, this.end);
      this.free.push(this.buf);
      this.buf = next.buf;
      this.pos = this.pre - tail;
      this.end = this.pre + got;
      this.bufFileOffset = next.fileOffset - this.pre;
      this.fill();
    }
    return this.end - this.pos >= n;
  }

  private at(i = 0): number {
    return this.bufFileOffset + this.pos + i;
  }

  /** The next verified record, or null after the trailer verified; throws on any defect. */
  async next(): Promise<SaveRecord | null> {
    if (this.closed) throw new SaveFormatError('ILLEGAL_STATE', `reader of ${this.path} is closed`);
    if (this.verified) return null;
    const fast = this.nextBuffered();
    if (fast) return fast;
    // Slow path: bring the whole record (or the trailer) into the buffer, then parse it.
    if (!(await this.ensure(1))) throw new SaveFormatError('TRUNCATED', 'file ends before the trailer', this.at());
    const tag = this.buf[this.pos];
    if (tag === TRAILER_TAG) return this.readTrailer();
    if (tag !== RECORD_TAG) throw new SaveFormatError('CORRUPT_DATA', `unknown record tag 0x${tag.toString(16)}`, this.at());
    if (!(await this.ensure(RECORD_HEAD))) throw new SaveFormatError('TRUNCATED', 'file ends inside a record head', this.at());
    const size = this.recordSize();
    if (!(await this.ensure(size)))
      throw new SaveFormatError('TRUNCATED', `file ends inside ${areaFromCode(this.buf[this.pos + 1])} RABN ${this.buf.readUInt32LE(this.pos + 4)}`, this.at());
    return this.nextBuffered() as SaveRecord;
  }

  /** Size of the record whose head is buffered at pos; checks area code and length first. */
  private recordSize(): number {
    const b = this.buf;
    const o = this.pos;
    const code = b[o + 1];
    const area = areaFromCode(code);
    if (!area || b[o + 2] !== 0 || b[o + 3] !== 0)
      throw new SaveFormatError('CORRUPT_DATA', `bad area code ${code} or reserved bytes`, this.at(1));
    const length = b.readUInt32LE(o + 8);
    // Length must be the area's block size: checked before reading so a corrupt length never drives a read.
    if (length !== this.sizes[code - 1])
      throw new SaveFormatError('CORRUPT_DATA', `record length ${length}, ${area} block size is ${this.sizes[code - 1]}`, this.at(8));
    return length + RECORD_OVERHEAD;
  }

  /**
   * The next record if it is completely in the buffer already (verified like next()), else null:
   * then call next(). Lets a merge loop avoid an await per record. Throws on any defect.
   */
  nextBuffered(): SaveRecord | null {
    if (this.closed || this.verified) return null;
    const b = this.buf;
    const o = this.pos;
    if (this.end - o < RECORD_HEAD || b[o] !== RECORD_TAG) return null;
    const size = this.recordSize();
    if (this.end - o < size) return null;
    const code = b[o + 1];
    const area = code === 1 ? 'ASSO' : 'DATA';
    const rabn = b.readUInt32LE(o + 4);
    const length = size - RECORD_OVERHEAD;
    const crc = b.readUInt32LE(o + RECORD_HEAD + length);
    if (crc32c(b, 0, o, o + RECORD_HEAD + length) !== crc)
      throw new SaveFormatError('CORRUPT_DATA', `CRC mismatch in record ${area} RABN ${rabn}`, this.at());
    if (rabn < 1 || rabn > this.blocks[code - 1])
      throw new SaveFormatError('CORRUPT_DATA', `${area} RABN ${rabn} outside the area`, this.at(4));
    const key = code * 0x100000000 + rabn;
    if (key <= this.lastKey)
      throw new SaveFormatError('CORRUPT_DATA', `${area} RABN ${rabn} out of order or duplicated`, this.at());
    this.lastKey = key;
    if (code === 1) this.assoRecords++;
    else this.dataRecords++;
    this.recordBytes += size;
    this.digest.add(code, rabn, crc);
    this.pos = o + size;
    return { area, areaCode: code, rabn, crc, raw: b.subarray(o, o + size), image: b.subarray(o + RECORD_HEAD, o + RECORD_HEAD + length) };
  }

  private async readTrailer(): Promise<null> {
    if (!(await this.ensure(TRAILER_SIZE))) throw new SaveFormatError('TRUNCATED', 'file ends inside the trailer', this.at());
    const b = this.buf;
    const o = this.pos;
    const where = this.at();
    if (crc32c(b, 0, o, o + 60) !== b.readUInt32LE(o + 60)) throw new SaveFormatError('CORRUPT_DATA', 'trailer CRC mismatch', where);
    const asso = Number(b.readBigUInt64LE(o + 4));
    const data = Number(b.readBigUInt64LE(o + 12));
    const bytes = Number(b.readBigUInt64LE(o + 20));
    const digest = b.toString('hex', o + 28, o + 60);
    if (asso !== this.assoRecords || data !== this.dataRecords || bytes !== this.recordBytes)
      throw new SaveFormatError('CORRUPT_DATA', `trailer counts ${asso}/${data}/${bytes} but read ${this.assoRecords}/${this.dataRecords}/${this.recordBytes}`, where);
    if (digest !== this.digest.hex()) throw new SaveFormatError('CORRUPT_DATA', 'trailer digest mismatch', where);
    this.pos += TRAILER_SIZE;
    if (await this.ensure(1)) throw new SaveFormatError('CORRUPT_DATA', 'bytes after the trailer', this.at());
    this.verified = { assoRecords: asso, dataRecords: data, recordBytes: bytes, digest };
    return null;
  }

  /** Closes the file (idempotent). */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const r of this.inflight.splice(0)) await r.done.catch(() => undefined);
      await this.fh.close();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SaveRecord> {
    try {
      for (let r = await this.next(); r; r = await this.next()) yield r;
    } finally {
      await this.close();
    }
  }
}
