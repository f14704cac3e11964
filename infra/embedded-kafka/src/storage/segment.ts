import { fsyncDir } from '@deltaflow/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BATCH_HEADER_BYTES, checkBatch, readBatchHeader, type BatchHeader } from '../protocol/record-batch';

/**
 * One log segment: `<baseOffset>.log` holds record batches back to back exactly as produced
 * (baseOffset patched); `<baseOffset>.index` holds one 24-byte entry per batch:
 *
 *   relativeOffset u32 | position u32 | size u32 | lastOffsetDelta u32 | maxTimestamp i64
 *
 * The index is also kept in memory (typed arrays) so a fetch finds its byte range with a
 * binary search and reads it with a single pread. Data is written before its index entry,
 * so after a crash the index can only lag the log; recovery re-verifies the tail.
 */
export const INDEX_ENTRY_BYTES = 24;

export interface SegmentLogger {
  (level: string, msg: string): void;
}

export interface RecoveryReport {
  readonly truncatedBytes: number;
  readonly reindexedBatches: number;
}

export class Segment {
  private rel = new Uint32Array(64);
  private pos = new Uint32Array(64);
  private sizes = new Uint32Array(64);
  private deltas = new Uint32Array(64);
  private maxTs = new Float64Array(64);
  private readonly entry = Buffer.alloc(INDEX_ENTRY_BYTES);
  count = 0;
  size = 0;
  /** Wall-clock time of the last append, for time-based retention of closed segments. */
  lastModifiedMs: number;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    readonly logFd: number,
    readonly indexFd: number,
  ) {
    this.lastModifiedMs = fs.fstatSync(logFd).mtimeMs;
  }

  static fileName(baseOffset: number, ext: 'log' | 'index'): string {
    return `${String(baseOffset).padStart(20, '0')}.${ext}`;
  }

  /** Creates an empty segment file pair (fsyncing the directory so the files survive a crash). */
  static create(dir: string, baseOffset: number): Segment {
    const logFd = fs.openSync(path.join(dir, Segment.fileName(baseOffset, 'log')), 'wx+');
    const indexFd = fs.openSync(path.join(dir, Segment.fileName(baseOffset, 'index')), 'wx+');
    fsyncDir(dir);
    return new Segment(dir, baseOffset, logFd, indexFd);
  }

  /** Opens an existing segment, verifying its tail and truncating a torn last batch. */
  static open(dir: string, baseOffset: number, log: SegmentLogger): { segment: Segment; report: RecoveryReport } {
    const logFd = fs.openSync(path.join(dir, Segment.fileName(baseOffset, 'log')), 'r+');
    const indexPath = path.join(dir, Segment.fileName(baseOffset, 'index'));
    const indexFd = fs.openSync(indexPath, fs.existsSync(indexPath) ? 'r+' : 'w+');
    const seg = new Segment(dir, baseOffset, logFd, indexFd);
    const report = seg.recover(log);
    return { segment: seg, report };
  }

  private recover(log: SegmentLogger): RecoveryReport {
    const logSize = fs.fstatSync(this.logFd).size;
    const indexBytes = readAll(this.indexFd);
    const n = Math.floor(indexBytes.length / INDEX_ENTRY_BYTES);
    let indexDirty = indexBytes.length !== n * INDEX_ENTRY_BYTES;
    // Keep the prefix of index entries that are mutually consistent and inside the log file.
    let expectRel = 0;
    let expectPos = 0;
    for (let i = 0; i < n; i++) {
      const o = i * INDEX_ENTRY_BYTES;
      const rel = indexBytes.readUInt32BE(o);
      const p = indexBytes.readUInt32BE(o + 4);
      const s = indexBytes.readUInt32BE(o + 8);
      const d = indexBytes.readUInt32BE(o + 12);
      if (rel !== expectRel || p !== expectPos || p + s > logSize || s < BATCH_HEADER_BYTES) {
        indexDirty = true;
        break;
      }
      this.push(rel, p, s, d, Number(indexBytes.readBigInt64BE(o + 16)));
      expectRel = rel + d + 1;
      expectPos = p + s;
    }
    if (this.count < n) indexDirty = true;
    // Re-verify the last indexed batches in full (lengths + CRC): the index may have been
    // written while the log bytes it points to were not yet complete.
    for (let i = Math.max(0, this.count - 2); i < this.count; i++) {
      const buf = Buffer.allocUnsafe(this.sizes[i]);
      fs.readSync(this.logFd, buf, 0, buf.length, this.pos[i]);
      const c = checkBatch(buf, 0, buf.length, true);
      if (!c.ok || c.header.size !== this.sizes[i] || c.header.baseOffset !== this.baseOffset + this.rel[i]) {
        this.count = i;
        indexDirty = true;
        break;
      }
    }
    this.size = this.count === 0 ? 0 : this.pos[this.count - 1] + this.sizes[this.count - 1];
    // Scan whatever follows the indexed prefix, batch by batch, with full CRC checks.
    let reindexed = 0;
    let p = this.size;
    const head = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
    let nextRel = this.count === 0 ? 0 : this.rel[this.count - 1] + this.deltas[this.count - 1] + 1;
    while (p + BATCH_HEADER_BYTES <= logSize) {
      fs.readSync(this.logFd, head, 0, BATCH_HEADER_BYTES, p);
      const batchLength = head.readInt32BE(8);
      const size = batchLength + 12;
      if (batchLength < BATCH_HEADER_BYTES - 12 || p + size > logSize) break;
      const buf = Buffer.allocUnsafe(size);
      fs.readSync(this.logFd, buf, 0, size, p);
      const c = checkBatch(buf, 0, size, true);
      if (!c.ok || c.header.baseOffset !== this.baseOffset + nextRel) break;
      this.push(nextRel, p, size, c.header.lastOffsetDelta, c.header.maxTimestamp);
      nextRel += c.header.lastOffsetDelta + 1;
      p += size;
      reindexed++;
      indexDirty = true;
    }
    this.size = p;
    const truncatedBytes = logSize - p;
    if (truncatedBytes > 0) {
      log('warn', `segment ${this.dir}/${this.baseOffset}: truncating ${truncatedBytes} bytes of torn or corrupt tail at ${p}`);
      fs.ftruncateSync(this.logFd, p);
      fs.fsyncSync(this.logFd);
    }
    if (indexDirty) this.rewriteIndex();
    return { truncatedBytes, reindexedBatches: reindexed };
  }

  private rewriteIndex(): void {
    const out = Buffer.alloc(this.count * INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.count; i++) this.encodeEntry(out, i * INDEX_ENTRY_BYTES, i);
    fs.ftruncateSync(this.indexFd, 0);
    if (out.length > 0) fs.writeSync(this.indexFd, out, 0, out.length, 0);
    fs.fsyncSync(this.indexFd);
  }

  private encodeEntry(out: Buffer, o: number, i: number): void {
    out.writeUInt32BE(this.rel[i], o);
    out.writeUInt32BE(this.pos[i], o + 4);
    out.writeUInt32BE(this.sizes[i], o + 8);
    out.writeUInt32BE(this.deltas[i], o + 12);
    out.writeBigInt64BE(BigInt(Math.trunc(this.maxTs[i])), o + 16);
  }

  private push(rel: number, p: number, s: number, d: number, ts: number): void {
    if (this.count === this.rel.length) {
      const grow = <T extends Uint32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as any)(a.length * 2) as T;
        b.set(a);
        return b;
      };
      this.rel = grow(this.rel);
      this.pos = grow(this.pos);
      this.sizes = grow(this.sizes);
      this.deltas = grow(this.deltas);
      this.maxTs = grow(this.maxTs);
    }
    const i = this.count++;
    this.rel[i] = rel;
    this.pos[i] = p;
    this.sizes[i] = s;
    this.deltas[i] = d;
    this.maxTs[i] = ts;
  }

  /** Offset after the last batch of this segment. */
  get nextOffset(): number {
    return this.count === 0 ? this.baseOffset : this.baseOffset + this.rel[this.count - 1] + this.deltas[this.count - 1] + 1;
  }

  /** Appends one batch (baseOffset already patched to `offset`): log first, then index entry. */
  append(batch: Buffer, offset: number, lastOffsetDelta: number, maxTimestamp: number, nowMs: number): void {
    const p = this.size;
    writeFully(this.logFd, batch, p);
    this.push(offset - this.baseOffset, p, batch.length, lastOffsetDelta, maxTimestamp);
    this.encodeEntry(this.entry, 0, this.count - 1);
    writeFully(this.indexFd, this.entry, (this.count - 1) * INDEX_ENTRY_BYTES);
    this.size = p + batch.length;
    this.lastModifiedMs = nowMs;
  }

  /** Index of the batch holding `offset`, or -1 if the offset is not in this segment. */
  findBatch(offset: number): number {
    const rel = offset - this.baseOffset;
    if (rel < 0 || this.count === 0 || offset >= this.nextOffset) return -1;
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.rel[mid] <= rel) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Bytes from batch i to the end of the segment. */
  bytesFrom(i: number): number {
    return this.size - this.pos[i];
  }

  /**
   * Reads whole batches starting at batch i, up to maxBytes, but always at least the first
   * batch (KIP-74: an oversize first batch is returned whole so the consumer can progress).
   */
  read(i: number, maxBytes: number): Buffer {
    let end = i + 1;
    let total = this.sizes[i];
    while (end < this.count && total + this.sizes[end] <= maxBytes) total += this.sizes[end++];
    const buf = Buffer.allocUnsafe(total);
    let got = 0;
    while (got < total) {
      const n = fs.readSync(this.logFd, buf, got, total - got, this.pos[i] + got);
      if (n === 0) break;
      got += n;
    }
    return got === total ? buf : buf.subarray(0, got);
  }

  /**
   * Calls `fn` with the header of every batch whose base offset is >= `fromOffset`, in order.
   * Reads the file in large windows, not one syscall per batch (rebuilding producer state).
   */
  scanHeaders(fromOffset: number, fn: (h: BatchHeader) => void): void {
    const win = Buffer.allocUnsafe(Math.max(BATCH_HEADER_BYTES, Math.min(1 << 20, this.size)));
    let winStart = 0;
    let winLen = 0;
    for (let i = 0; i < this.count; i++) {
      if (this.baseOffset + this.rel[i] < fromOffset) continue;
      const p = this.pos[i];
      if (p < winStart || p + BATCH_HEADER_BYTES > winStart + winLen) {
        winStart = p;
        winLen = fs.readSync(this.logFd, win, 0, Math.min(win.length, Math.max(BATCH_HEADER_BYTES, this.size - p)), p);
        if (winLen < BATCH_HEADER_BYTES) return;
      }
      fn(readBatchHeader(win, p - winStart));
    }
  }

  /**
   * First batch ending at or after `minOffset` whose maxTimestamp >= ts (batch granularity):
   * its base offset (raised to `minOffset`) and that timestamp, or null.
   */
  offsetForTimestamp(ts: number, minOffset = 0): { offset: number; timestamp: number } | null {
    for (let i = 0; i < this.count; i++) {
      const base = this.baseOffset + this.rel[i];
      if (base + this.deltas[i] < minOffset) continue;
      if (this.maxTs[i] >= ts) return { offset: Math.max(base, minOffset), timestamp: this.maxTs[i] };
    }
    return null;
  }

  /** Highest batch maxTimestamp in the segment (for time retention). */
  get maxTimestamp(): number {
    let m = -1;
    for (let i = 0; i < this.count; i++) if (this.maxTs[i] > m) m = this.maxTs[i];
    return m;
  }

  sync(): void {
    fs.fdatasyncSync(this.logFd);
    fs.fdatasyncSync(this.indexFd);
  }

  syncAsync(): Promise<void> {
    return Promise.all([fdatasync(this.logFd), fdatasync(this.indexFd)]).then(() => undefined);
  }

  close(): void {
    fs.closeSync(this.logFd);
    fs.closeSync(this.indexFd);
  }

  /** Closes and removes both files. */
  delete(): void {
    this.close();
    fs.rmSync(path.join(this.dir, Segment.fileName(this.baseOffset, 'log')), { force: true });
    fs.rmSync(path.join(this.dir, Segment.fileName(this.baseOffset, 'index')), { force: true });
  }
}

function readAll(fd: number): Buffer {
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = fs.readSync(fd, buf, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

function writeFully(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, position + off);
}

/** fsyncs a directory so that file creations and renames in it are durable. */


