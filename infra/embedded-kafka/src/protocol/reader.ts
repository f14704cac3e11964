import { MalformedRequestError } from '../errors';

/**
 * Bounds-checked reader over one request frame. Every length read from the wire is checked
 * against the bytes that remain BEFORE anything is allocated, so a hostile length cannot make
 * the broker allocate more than the (already capped) frame.
 */
export class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new MalformedRequestError(`truncated ${what}: need ${n} bytes at ${this.pos}, frame ends at ${this.end}`);
    }
  }

  int8(): number {
    this.need(1, 'int8');
    return this.buf.readInt8(this.pos++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** int64 as a JS number: offsets and timestamps stay far below 2^53. */
  int64(): number {
    this.need(8, 'int64');
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return v;
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    if (len < -1) throw new MalformedRequestError(`negative string length ${len}`);
    this.need(len, 'string');
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new MalformedRequestError('null where a string is required');
    return s;
  }

  /** Nullable bytes as a view into the frame (no copy). */
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    if (len < -1) throw new MalformedRequestError(`negative bytes length ${len}`);
    this.need(len, 'bytes');
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }

  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }

  /** Nullable int32-counted array; the count is capped by the remaining bytes (each item >= minItemBytes). */
  nullableArray<T>(item: (r: Reader) => T, minItemBytes = 1): T[] | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < -1 || n * minItemBytes > this.remaining) {
      throw new MalformedRequestError(`array count ${n} impossible with ${this.remaining} bytes left`);
    }
    const out: T[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = item(this);
    return out;
  }

  array<T>(item: (r: Reader) => T, minItemBytes = 1): T[] {
    return this.nullableArray(item, minItemBytes) ?? [];
  }

  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      this.need(1, 'varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 28) throw new MalformedRequestError('varint longer than 5 bytes');
    }
  }

  /** Compact (flexible-version) nullable string: uvarint length + 1. */
  compactNullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    this.need(n - 1, 'compact string');
    const s = this.buf.toString('utf8', this.pos, this.pos + n - 1);
    this.pos += n - 1;
    return s;
  }

  /** Skips a tagged-field section; the broker knows no tags, so their contents are ignored. */
  taggedFields(): void {
    const n = this.uvarint();
    if (n > this.remaining) throw new MalformedRequestError(`tagged field count ${n} too large`);
    for (let i = 0; i < n; i++) {
      this.uvarint();
      const size = this.uvarint();
      this.need(size, 'tagged field');
      this.pos += size;
    }
  }
}
