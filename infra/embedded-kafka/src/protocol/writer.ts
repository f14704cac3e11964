/**
 * Response writer. Small fields go into a growing scratch buffer; large byte ranges (record
 * sets read from segment files) are kept as separate chunks so the socket can send them with
 * one writev and nothing is copied twice.
 */
export class Writer {
  private readonly chunks: Buffer[] = [];
  private cur: Buffer;
  private pos = 0;
  private flushedBytes = 0;

  constructor(initial = 256) {
    this.cur = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.flushedBytes + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.cur.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.cur.length * 2, this.pos + n));
    this.cur.copy(next, 0, 0, this.pos);
    this.cur = next;
  }

  int8(v: number): this {
    this.ensure(1);
    this.cur.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    this.ensure(2);
    this.cur.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.cur.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: number): this {
    this.ensure(8);
    this.cur.writeBigInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const len = Buffer.byteLength(s);
    this.int16(len);
    this.ensure(len);
    this.pos += this.cur.write(s, this.pos);
    return this;
  }

  string(s: string): this {
    return this.nullableString(s);
  }

  /** int32 length + bytes; large buffers are referenced, not copied. */
  nullableBytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    return this.raw(b);
  }

  bytes(b: Buffer): this {
    return this.nullableBytes(b);
  }

  raw(b: Buffer): this {
    if (b.length < 4096) {
      this.ensure(b.length);
      b.copy(this.cur, this.pos);
      this.pos += b.length;
    } else {
      this.flushScratch();
      this.chunks.push(b);
      this.flushedBytes += b.length;
    }
    return this;
  }

  array<T>(items: readonly T[], item: (w: Writer, v: T) => void): this {
    this.int32(items.length);
    for (const v of items) item(this, v);
    return this;
  }

  nullableArray<T>(items: readonly T[] | null, item: (w: Writer, v: T) => void): this {
    if (items === null) return this.int32(-1);
    return this.array(items, item);
  }

  uvarint(v: number): this {
    while (v >= 0x80) {
      this.int8(((v & 0x7f) | 0x80) << 24 >> 24);
      v = Math.floor(v / 128);
    }
    return this.int8((v << 24) >> 24);
  }

  compactArray<T>(items: readonly T[], item: (w: Writer, v: T) => void): this {
    this.uvarint(items.length + 1);
    for (const v of items) item(this, v);
    return this;
  }

  /** An empty tagged-field section. */
  noTags(): this {
    return this.int8(0);
  }

  private flushScratch(): void {
    if (this.pos === 0) return;
    this.chunks.push(this.cur.subarray(0, this.pos));
    this.flushedBytes += this.pos;
    this.cur = Buffer.allocUnsafe(Math.max(256, this.cur.length - this.pos));
    this.pos = 0;
  }

  /** The written bytes as a list of chunks, for writev. */
  toChunks(): Buffer[] {
    this.flushScratch();
    return this.chunks;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.toChunks());
  }
}
