import { crc32c } from '@deltaflow/checksum';
import { Device } from './device';
import { decodeHeader, HEADER_LENGTH, hex, RECORD_MAGIC, RecordHeader, recordExtent } from './format';

/*
 * Sequential, verifying walk over the records of the mounted volume, for both addressings. A
 * record counts only if its header is authentic (CRC), declares the position it lies at, carries
 * the volume's tag (when known) and its body matches the body CRC. After damage the walk
 * resynchronises: on a byte device at the next authentic record (found by its magic), on a block
 * device at the next block. Memory: one read window, whatever the volume size.
 */

/** A damaged, foreign or truncated stretch of a volume. */
export interface Damage {
  readonly volser: string;
  readonly position: number;
  readonly kind: 'corrupt' | 'truncated' | 'foreign';
  readonly reason: string;
  /** where reading resumed, or null when nothing valid followed */
  readonly resumedAt: number | null;
}

/** A verified record. `body` is a view valid only during the visit callback. */
export interface WalkedRecord {
  readonly header: RecordHeader;
  readonly body: Buffer;
  readonly position: number;
  readonly extent: number;
}

export interface WalkOptions {
  /** the volume tag; when unknown any authentic record counts (the caller takes the majority) */
  readonly tag?: string;
  readonly volser: string;
  /** read window for byte devices (default 8 MiB) and batch for block devices (default 32 blocks) */
  readonly window?: number;
}

export interface WalkResult {
  /** position after the last valid record */
  readonly validEnd: number;
  readonly damage: Damage[];
  /** position units read */
  readonly read: number;
}

/** Walks [from, to) of the mounted volume, calling `visit` for each verified record in order. */
export async function walkRecords(device: Device, from: number, to: number, opts: WalkOptions, visit: (r: WalkedRecord) => void | Promise<void>): Promise<WalkResult> {
  return device.addressing === 'byte' ? walkBytes(device, from, to, opts, visit) : walkBlocks(device, from, to, opts, visit);
}

type Check = { ok: true; header: RecordHeader; extent: number } | { ok: false; truncated: boolean; reason: string };

/** Verifies one record whose bytes start at buf[at] and which must lie at `position`. */
export function checkRecord(buf: Buffer, at: number, position: number, tag: string | undefined, addressing: 'byte' | 'block'): Check {
  const d = decodeHeader(buf, at);
  if (!d.ok) return { ok: false, truncated: d.kind === 'short', reason: d.reason };
  const h = d.header;
  if (h.position !== position) return { ok: false, truncated: false, reason: `record declares position ${h.position}` };
  if (tag !== undefined && h.tag !== tag) return { ok: false, truncated: false, reason: `record of another volume (tag ${h.tag})` };
  const end = at + HEADER_LENGTH + h.bodyLength;
  if (end > buf.length) return { ok: false, truncated: true, reason: `volume ends inside a ${h.kind} record (${buf.length - at - HEADER_LENGTH} of ${h.bodyLength} body bytes)` };
  if (addressing === 'block' && end !== buf.length) return { ok: false, truncated: false, reason: `block of ${buf.length - at} bytes holds a record of ${end - at}` };
  const c = crc32c(buf, 0, at + HEADER_LENGTH, end);
  if (c !== h.bodyCrc) return { ok: false, truncated: false, reason: `body CRC32C ${hex(c)} differs from stored ${hex(h.bodyCrc)} in a ${h.kind} record` };
  return { ok: true, header: h, extent: recordExtent(addressing, h.bodyLength) };
}

async function walkBlocks(device: Device, from: number, to: number, opts: WalkOptions, visit: (r: WalkedRecord) => void | Promise<void>): Promise<WalkResult> {
  const damage: Damage[] = [];
  let validEnd = from;
  let pos = from;
  let read = 0;
  let open: { position: number; kind: Damage['kind']; reason: string } | null = null;
  const batch = opts.window ?? 32;
  while (pos < to) {
    const blocks = await device.read(pos, Math.min(batch, to - pos));
    if (blocks.length === 0) break;
    read += blocks.length;
    for (const b of blocks) {
      const c = checkRecord(b, 0, pos, opts.tag, 'block');
      if (c.ok) {
        if (open) damage.push({ volser: opts.volser, ...open, resumedAt: pos });
        open = null;
        await visit({ header: c.header, body: b.subarray(HEADER_LENGTH), position: pos, extent: 1 });
        validEnd = pos + 1;
      } else if (!open) {
        open = { position: pos, kind: c.reason.startsWith('record of another volume') ? 'foreign' : c.truncated ? 'truncated' : 'corrupt', reason: c.reason };
      }
      pos++;
    }
  }
  if (open) damage.push({ volser: opts.volser, ...open, resumedAt: null });
  return { validEnd, damage, read };
}

async function walkBytes(device: Device, from: number, to: number, opts: WalkOptions, visit: (r: WalkedRecord) => void | Promise<void>): Promise<WalkResult> {
  const win = new ByteWindow(device, opts.window ?? 8 << 20, to);
  const damage: Damage[] = [];
  let pos = from;
  let validEnd = from;
  while (pos < to) {
    const c = await win.check(pos, opts.tag);
    if (c.ok) {
      const buf = await win.get(pos, c.extent);
      await visit({ header: c.header, body: buf.subarray(HEADER_LENGTH), position: pos, extent: c.extent });
      pos += c.extent;
      validEnd = pos;
      continue;
    }
    const next = await resync(win, pos + 1, to, opts.tag);
    damage.push({
      volser: opts.volser,
      position: pos,
      kind: c.reason.startsWith('record of another volume') ? 'foreign' : next === null && c.truncated ? 'truncated' : 'corrupt',
      reason: c.reason,
      resumedAt: next,
    });
    if (next === null) break;
    pos = next;
  }
  return { validEnd, damage, read: win.bytesRead };
}

/** The next position ≥ from holding a valid record, or null. */
async function resync(win: ByteWindow, from: number, to: number, tag: string | undefined): Promise<number | null> {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(RECORD_MAGIC);
  let pos = from;
  const step = 4 << 20;
  while (pos + 4 <= to) {
    const n = Math.min(step, to - pos);
    let i = (await win.get(pos, n)).indexOf(magic);
    while (i >= 0) {
      const r = await win.check(pos + i, tag);
      if (r.ok) return pos + i;
      i = (await win.get(pos, n)).indexOf(magic, i + 1);
    }
    if (n < step) break;
    pos += n - 3;
  }
  return null;
}

/** A sliding read window over a byte device: get(pos, n) returns a view valid until the next call. */
export class ByteWindow {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  bytesRead = 0;
  constructor(
    private readonly device: Device,
    private readonly size: number,
    private readonly limit: number,
  ) {}

  async get(pos: number, n: number): Promise<Buffer> {
    const want = Math.min(n, this.limit - pos);
    if (pos >= this.start && pos + want <= this.start + this.buf.length) return this.buf.subarray(pos - this.start, pos - this.start + want);
    const [b] = await this.device.read(pos, Math.min(Math.max(want, this.size), this.limit - pos));
    this.bytesRead += b.length;
    this.buf = b;
    this.start = pos;
    return b.subarray(0, Math.min(want, b.length));
  }

  /** Verifies the record at `pos` (reading its header, then its body). */
  async check(pos: number, tag: string | undefined): Promise<Check> {
    const head = await this.get(pos, HEADER_LENGTH);
    const d = decodeHeader(head);
    if (!d.ok) return { ok: false, truncated: d.kind === 'short', reason: d.reason };
    const whole = await this.get(pos, HEADER_LENGTH + d.header.bodyLength);
    return checkRecord(whole, 0, pos, tag, 'byte');
  }
}
