import * as fs from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { Area, areaCode, assertArea } from '@deltaflow/blocks';
import { fsyncDir } from '@deltaflow/core';
import { RecordDigest } from './digest';
import { SaveFormatError } from './errors';
import {
  encodeHeader,
  HEADER_PREFIX,
  RECORD_HEAD,
  RECORD_OVERHEAD,
  RECORD_TAG,
  SaveHeader,
  SaveTrailer,
  TRAILER_SIZE,
  TRAILER_TAG,
  validateSaveHeader,
} from './header';

export interface WriterOptions {
  /** bytes buffered before each write; default 256 KiB (small writes stay in the CPU cache: see ReaderOptions.chunkBytes) */
  readonly chunkBytes?: number;
  /** writes kept in flight while the next buffer fills (async I/O only); default 2 (memory: (1 + writeBehind) chunks) */
  readonly writeBehind?: number;
  /** 'sync' (default): a blocking pwrite per full buffer; 'async': on libuv's thread pool while the next fills (see ReaderOptions.io) */
  readonly io?: 'sync' | 'async';
  /** fsync the file and its directory before the final rename; default true */
  readonly fsync?: boolean;
  /**
   * The end LSN is known only at the end (an online save's end sync): room is reserved in the
   * header so setEndLsn() can record it before finish().
   */
  readonly endLsnLater?: boolean;
}

/** Header room reserved for a later end LSN: the digits of any safe integer, and more. */
const END_LSN_ROOM = 24;

/** What finish() reports. */
export interface WrittenDataSet extends SaveTrailer {
  readonly path: string;
  readonly header: SaveHeader;
  /** total file size in bytes */
  readonly bytes: number;
  /** what the sink's finish() returned (a data set written to a sink) */
  readonly sinkResult?: unknown;
}

/**
 * Where a data set goes when it does not go to a file: an append-only byte sink (a client file on a
 * stream, cut into superblocks as the bytes come). The writer appends each full chunk once, in
 * order, and waits for `write` before reusing the chunk's buffer: a sink copies what it keeps.
 */
export interface DataSetSink<R = unknown> {
  /** Appends bytes; resolves when the sink can take more (back pressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Everything was written: resolves once it is durable where it goes. */
  finish(): Promise<R>;
  /** Gives the output up: nothing of it may ever be read as complete. */
  abort(reason: string): Promise<void>;
}

/** A data set's output: a file (written to `<path>.partial`, renamed by finish) or a sink and the name it is known by. */
export type DataSetTarget = string | { readonly sink: DataSetSink; readonly name: string };

/** Temporary name of a data set being written: a crashed writer leaves only this behind. */
export const partialPath = (file: string): string => `${file}.partial`;

/**
 * Streaming writer of one save data set. Records must come in strictly increasing (area, RABN)
 * order; anything else is rejected without changing the writer. Output goes to `<path>.partial`
 * and becomes `<path>` only in finish(), which never overwrites an existing file.
 * Each full chunk is written with one pwrite (or, with io 'async', in the background while the next fills). Await each call before
 * making the next one.
 */
export class DataSetWriter {
  private buf: Buffer;
  /** buffers free to fill, and writes in flight (oldest first), each holding its buffer */
  private readonly free: Buffer[] = [];
  private readonly writing: { buf: Buffer; done: Promise<void> }[] = [];
  private used = 0;
  private fileOffset = 0;
  private lastKey = 0;
  private assoRecords = 0;
  private dataRecords = 0;
  private recordBytes = 0;
  private readonly digest = new RecordDigest();
  private state: 'open' | 'finished' | 'aborted' = 'open';
  private readonly sizes: readonly [number, number];
  private readonly blocks: readonly [number, number];

  private headerJsonLength = 0;
  private headerChanged = false;

  private constructor(
    /** the file's path, or the name a sink's data set is known by */
    readonly path: string,
    private currentHeader: SaveHeader,
    private readonly fh: FileHandle | null,
    chunk: number,
    private readonly fsync: boolean,
    depth: number,
    private readonly syncIo: boolean,
    private readonly sink: DataSetSink | null = null,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
    for (let i = 1; i < depth; i++) this.free.push(Buffer.allocUnsafe(chunk));
    this.sizes = [currentHeader.geometry.asso.blockSize, currentHeader.geometry.data.blockSize];
    this.blocks = [currentHeader.geometry.asso.blocks, currentHeader.geometry.data.blocks];
  }

  /** The header as it will be in the finished data set. */
  get header(): SaveHeader {
    return this.currentHeader;
  }

  /**
   * Records the end LSN (an online save's end sync, known after its blocks were read); the
   * header is rewritten in place by finish(). Needs `endLsnLater` at create, or a value that
   * fits the header as written. VALIDATION if below the start LSN.
   */
  setEndLsn(endLsn: number): void {
    if (this.state !== 'open') throw new SaveFormatError('ILLEGAL_STATE', `writer is ${this.state}`);
    if (this.sink) throw new SaveFormatError('VALIDATION', `data set ${this.path} goes to an append-only sink: its header cannot change`);
    const next = validateSaveHeader({ ...this.currentHeader, endLsn });
    encodeHeader(next, this.headerJsonLength); // fits, or throws VALIDATION now rather than at finish
    this.currentHeader = next;
    this.headerChanged = true;
  }

  /**
   * Starts a data set at `target`: a file (ALREADY_EXISTS if it exists) or a sink, which is
   * append-only, so its header must be final (VALIDATION with `endLsnLater`). VALIDATION for a bad header.
   */
  static async create(target: DataSetTarget, header: SaveHeader, opts: WriterOptions = {}): Promise<DataSetWriter> {
    const h = validateSaveHeader(header);
    const maxRecord = Math.max(h.geometry.asso.blockSize, h.geometry.data.blockSize) + RECORD_OVERHEAD;
    const chunk = Math.max(opts.chunkBytes ?? 256 << 10, maxRecord, TRAILER_SIZE);
    let w: DataSetWriter;
    if (typeof target === 'string') {
      if (fs.existsSync(target)) throw new SaveFormatError('ALREADY_EXISTS', `${target} exists`);
      const fh = await open(partialPath(target), 'w');
      const sync = (opts.io ?? 'sync') === 'sync';
      w = new DataSetWriter(target, h, fh, chunk, opts.fsync ?? true, sync ? 1 : Math.max(2, Math.min(8, (opts.writeBehind ?? 2) + 1)), sync);
    } else {
      if (opts.endLsnLater) throw new SaveFormatError('VALIDATION', `data set ${target.name} goes to an append-only sink: its end LSN must be known when it starts`);
      w = new DataSetWriter(target.name, h, null, chunk, false, 1, false, target.sink);
    }
    let hb = encodeHeader(h);
    if (opts.endLsnLater) {
      w.headerJsonLength = hb.length - HEADER_PREFIX - 4 + END_LSN_ROOM;
      hb = encodeHeader(h, w.headerJsonLength);
    } else {
      w.headerJsonLength = hb.length - HEADER_PREFIX - 4;
    }
    if (hb.length > chunk) {
      await w.writeOut(hb);
    } else {
      hb.copy(w.buf, 0);
      w.used = hb.length;
    }
    return w;
  }

  private check(area: Area, rabn: number, length: number): number {
    if (this.state !== 'open') throw new SaveFormatError('ILLEGAL_STATE', `writer is ${this.state}`);
    assertAreaOrThrow(area);
    const code = areaCode(area);
    const max = this.blocks[code - 1];
    if (!Number.isInteger(rabn) || rabn < 1 || rabn > max)
      throw new SaveFormatError('VALIDATION', `${area} RABN ${rabn} not in 1..${max}`);
    const bs = this.sizes[code - 1];
    if (length !== bs) throw new SaveFormatError('IMAGE_LENGTH', `${area} RABN ${rabn}: image of ${length} bytes, block size is ${bs}`);
    const key = code * 0x100000000 + rabn;
    if (key === this.lastKey) throw new SaveFormatError('DUPLICATE_RECORD', `${area} RABN ${rabn} written twice`);
    if (key < this.lastKey) throw new SaveFormatError('OUT_OF_ORDER', `${area} RABN ${rabn} after ${describeKey(this.lastKey)}`);
    return key;
  }

  /** Appends one block record; rejects (changing nothing) bad area, RABN, length or order. */
  async writeBlock(area: Area, rabn: number, image: Uint8Array): Promise<void> {
    const key = this.check(area, rabn, image.length);
    const size = image.length + RECORD_OVERHEAD;
    if (this.buf.length - this.used < size) await this.rotate();
    const b = this.buf;
    const o = this.used;
    b[o] = RECORD_TAG;
    b[o + 1] = areaCode(area);
    b[o + 2] = 0;
    b[o + 3] = 0;
    b.writeUInt32LE(rabn, o + 4);
    b.writeUInt32LE(image.length, o + 8);
    b.set(image, o + RECORD_HEAD);
    const crc = crc32c(b, 0, o, o + RECORD_HEAD + image.length);
    b.writeUInt32LE(crc, o + RECORD_HEAD + image.length);
    this.commit(key, area, rabn, crc, size);
  }

  /**
   * Appends a record copied verbatim from a verified reader (`raw` = the whole record, its CRC
   * included), so a merge copies bytes without recomputing CRCs. The record is still checked.
   */
  async writeRawRecord(area: Area, rabn: number, raw: Uint8Array, crc: number): Promise<void> {
    const key = this.check(area, rabn, raw.length - RECORD_OVERHEAD);
    if (this.buf.length - this.used < raw.length) await this.rotate();
    this.buf.set(raw, this.used);
    this.commit(key, area, rabn, crc, raw.length);
  }

  /**
   * Like writeRawRecord, synchronously: returns false (nothing written) when the buffer has no room,
   * and the caller must then await writeRawRecord. Saves an await per record in merge loops.
   */
  tryWriteRawRecord(area: Area, rabn: number, raw: Uint8Array, crc: number): boolean {
    const key = this.check(area, rabn, raw.length - RECORD_OVERHEAD);
    if (this.buf.length - this.used < raw.length) return false;
    this.buf.set(raw, this.used);
    this.commit(key, area, rabn, crc, raw.length);
    return true;
  }

  private commit(key: number, area: Area, rabn: number, crc: number, size: number): void {
    this.used += size;
    this.lastKey = key;
    if (area === 'ASSO') this.assoRecords++;
    else this.dataRecords++;
    this.recordBytes += size;
    this.digest.add(areaCode(area), rabn, crc);
  }

  /** Hands the full buffer to the file (in the background) or the sink, and continues in a free one. */
  private async rotate(): Promise<void> {
    const full = this.buf.subarray(0, this.used);
    const pos = this.fileOffset;
    this.fileOffset += full.length;
    if (this.sink) {
      await this.sink.write(full);
      this.used = 0;
      return;
    }
    const fh = this.fh as FileHandle;
    if (this.syncIo) {
      let done = 0;
      while (done < full.length) done += fs.writeSync(fh.fd, full, done, full.length - done, pos + done);
      this.used = 0;
      return;
    }
    const done = writeAll(fh, full, pos);
    done.catch(() => undefined); // observed here so a failure surfaces at the next await, not as an unhandled rejection
    this.writing.push({ buf: this.buf, done });
    if (this.free.length === 0) {
      const oldest = this.writing.shift() as { buf: Buffer; done: Promise<void> };
      await oldest.done;
      this.free.push(oldest.buf);
    }
    this.buf = this.free.pop() as Buffer;
    this.used = 0;
  }

  /** Waits for every write in flight. */
  private async drain(): Promise<void> {
    while (this.writing.length > 0) {
      const w = this.writing.shift() as { buf: Buffer; done: Promise<void> };
      await w.done;
      this.free.push(w.buf);
    }
  }

  private async writeOut(b: Buffer): Promise<void> {
    if (this.sink) await this.sink.write(b);
    else await writeAll(this.fh as FileHandle, b, this.fileOffset);
    this.fileOffset += b.length;
  }

  /** Writes the trailer, flushes (fsync by default) and renames the file into place. */
  async finish(): Promise<WrittenDataSet> {
    if (this.state !== 'open') throw new SaveFormatError('ILLEGAL_STATE', `writer is ${this.state}`);
    this.state = 'finished';
    try {
      if (this.buf.length - this.used < TRAILER_SIZE) await this.rotate();
      const digest = this.digest.hex();
      const t = this.buf.subarray(this.used, this.used + TRAILER_SIZE);
      t.fill(0);
      t[0] = TRAILER_TAG;
      t.writeBigUInt64LE(BigInt(this.assoRecords), 4);
      t.writeBigUInt64LE(BigInt(this.dataRecords), 12);
      t.writeBigUInt64LE(BigInt(this.recordBytes), 20);
      Buffer.from(digest, 'hex').copy(t, 28);
      t.writeUInt32LE(crc32c(t, 0, 0, 60), 60);
      this.used += TRAILER_SIZE;
      await this.rotate();
      await this.drain();
      if (this.sink) {
        const sinkResult = await this.sink.finish();
        return { path: this.path, header: this.header, bytes: this.fileOffset, assoRecords: this.assoRecords, dataRecords: this.dataRecords, recordBytes: this.recordBytes, digest, sinkResult };
      }
      const fh = this.fh as FileHandle;
      if (this.headerChanged) await writeAll(fh, encodeHeader(this.currentHeader, this.headerJsonLength), 0);
      if (this.fsync) await fh.sync();
      await fh.close();
      // link + unlink instead of rename: link fails if the target appeared meanwhile, so an
      // existing data set is never replaced.
      await fs.promises.link(partialPath(this.path), this.path).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' ? new SaveFormatError('ALREADY_EXISTS', `${this.path} exists`) : e;
      });
      await fs.promises.unlink(partialPath(this.path));
      if (this.fsync) fsyncDir(path.dirname(this.path));
      return {
        path: this.path,
        header: this.header,
        bytes: this.fileOffset,
        assoRecords: this.assoRecords,
        dataRecords: this.dataRecords,
        recordBytes: this.recordBytes,
        digest,
      };
    } catch (e) {
      await this.cleanup((e as Error).message);
      throw e;
    }
  }

  /** Abandons the data set: closes and deletes the partial file, or aborts the sink. */
  async abort(reason = 'the writer gave the data set up'): Promise<void> {
    if (this.state === 'open') {
      this.state = 'aborted';
      await this.cleanup(reason);
    }
  }

  private async cleanup(reason: string): Promise<void> {
    if (this.sink) {
      await this.sink.abort(reason.slice(0, 200)).catch(() => undefined);
      return;
    }
    if (!this.fh) return;
    for (const w of this.writing.splice(0)) await w.done.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await fs.promises.unlink(partialPath(this.path)).catch(() => undefined);
  }
}

async function writeAll(fh: FileHandle, b: Uint8Array, pos: number): Promise<void> {
  const fd = fh.fd;
  let done = 0;
  while (done < b.length)
    done += await new Promise<number>((resolve, reject) => fs.write(fd, b, done, b.length - done, pos + done, (e, n) => (e ? reject(e) : resolve(n))));
}

function assertAreaOrThrow(area: unknown): asserts area is Area {
  try {
    assertArea(area);
  } catch {
    throw new SaveFormatError('VALIDATION', `unknown area ${JSON.stringify(area)}`);
  }
}

function describeKey(key: number): string {
  return `${key >= 0x200000000 ? 'DATA' : 'ASSO'} RABN ${key % 0x100000000}`;
}
