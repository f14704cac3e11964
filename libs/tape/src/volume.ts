import * as fs from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { crc32c } from '@deltaflow/checksum';
import { TapeCorruptError, TapeIoError, TapeNotFoundError, TapeStateError, TapeValidationError } from './errors';
import { DecodedLabel, decodeLabel, encodeLabel, MAX_LABEL_LENGTH, VolumeLabel } from './label';
import { volumePath } from './names';
import {
  decodeSuperblockHeader,
  encodedSuperblockLength,
  encodeSuperblock,
  MAX_SUPERBLOCK_HEADER,
  MAX_SUPERBLOCK_PAYLOAD,
  SUPERBLOCK_MAGIC,
  SuperblockHeader,
  SuperblockInput,
} from './superblock';

/** Where one superblock lies: what SuperblockPlaced reports and what a read-back needs. */
export interface Placement {
  readonly clientFile: string;
  readonly stream: string;
  readonly seq: number;
  readonly last: boolean;
  readonly volser: string;
  /** byte offset of the record (header) in the volume file */
  readonly offset: number;
  /** payload length in bytes */
  readonly length: number;
  /** payload CRC32C */
  readonly crc: number;
}

async function openVolume(file: string, flags: string): Promise<FileHandle> {
  try {
    return await open(file, flags);
  } catch (e: any) {
    if (e?.code === 'ENOENT') throw new TapeNotFoundError(`no volume file ${file}`, file);
    if (e?.code === 'EEXIST') throw new TapeStateError(`volume file ${file} already exists`);
    throw new TapeIoError(`cannot open ${file}: ${e?.message ?? e}`, e);
  }
}

async function readAt(fh: FileHandle, buf: Buffer, pos: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, pos + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

async function readLabelFrom(fh: FileHandle, file: string): Promise<DecodedLabel> {
  const buf = Buffer.alloc(MAX_LABEL_LENGTH);
  const n = await readAt(fh, buf, 0);
  try {
    return decodeLabel(buf.subarray(0, n));
  } catch (e) {
    if (e instanceof TapeCorruptError) throw new TapeCorruptError(e.message.replace(/ \(offset 0\)$/, ''), { path: file, offset: 0 });
    throw e;
  }
}

/** Reads and verifies the label of the volume file at `file`. */
export async function readVolumeLabel(file: string): Promise<DecodedLabel> {
  const fh = await openVolume(file, 'r');
  try {
    return await readLabelFrom(fh, file);
  } finally {
    await fh.close();
  }
}

/**
 * Appends superblocks to one volume file (`<dir>/<volser>.vol`): the label at offset 0, then
 * records back to back. A record that would exceed the volume's capacity is refused (append
 * returns null: mount the next volume). Each append is written before it returns; sync() makes
 * the written records durable. Await each call before the next.
 */
export class VolumeWriter {
  private closed = false;

  private constructor(
    readonly path: string,
    readonly label: DecodedLabel,
    private readonly fh: FileHandle,
    private end: number,
  ) {}

  /** Creates a new volume file with `label`; ILLEGAL_STATE if the volume exists. */
  static async create(dir: string, label: VolumeLabel): Promise<VolumeWriter> {
    const bytes = encodeLabel(label);
    const file = volumePath(dir, label.volser);
    const fh = await openVolume(file, 'wx');
    try {
      await fh.write(bytes, 0, bytes.length, 0);
    } catch (e) {
      await fh.close();
      throw new TapeIoError(`cannot write the label of ${file}`, e);
    }
    return new VolumeWriter(file, decodeLabel(bytes), fh, bytes.length);
  }

  /**
   * Reopens a volume to append after its last valid superblock (after a crash): a torn or damaged
   * tail is cut off and reported.
   */
  static async reopen(dir: string, volser: string): Promise<{ writer: VolumeWriter; cut: VolumeProblem | null }> {
    const file = volumePath(dir, volser);
    const scan = await scanVolume(file);
    const fh = await openVolume(file, 'r+');
    let cut: VolumeProblem | null = null;
    if (scan.problems.length > 0) {
      cut = scan.problems[0];
      await fh.truncate(scan.validEnd);
    }
    return { writer: new VolumeWriter(file, scan.label, fh, scan.validEnd), cut };
  }

  /** Bytes used so far (label included). */
  get used(): number {
    return this.end;
  }

  /** True if a superblock of `payloadLength` bytes would still fit. */
  fits(sb: Pick<SuperblockInput, 'stream' | 'clientFile' | 'payload'>): boolean {
    return this.end + encodedSuperblockLength(sb) <= this.label.capacity;
  }

  /** Appends one superblock; null when the volume has no room for it (nothing written). */
  async append(sb: SuperblockInput): Promise<Placement | null> {
    if (this.closed) throw new TapeStateError(`volume ${this.label.volser} is closed`);
    if (sb.stream !== this.label.stream)
      throw new TapeValidationError(`superblock of stream ${sb.stream} on a volume of stream ${this.label.stream}`, 'stream');
    const rec = encodeSuperblock(sb, this.end, this.label.tag);
    if (this.end + rec.length > this.label.capacity) return null;
    const at = this.end;
    try {
      let done = 0;
      while (done < rec.length) done += (await this.fh.write(rec, done, rec.length - done, at + done)).bytesWritten;
    } catch (e) {
      throw new TapeIoError(`write to volume ${this.label.volser} at offset ${at} failed`, e);
    }
    this.end += rec.length;
    return {
      clientFile: sb.clientFile,
      stream: sb.stream,
      seq: sb.seq,
      last: sb.last,
      volser: this.label.volser,
      offset: at,
      length: sb.payload.length,
      crc: rec.readUInt32BE(12),
    };
  }

  /** Makes everything appended so far durable. */
  async sync(): Promise<void> {
    if (!this.closed) await this.fh.sync();
  }

  /** Syncs and closes the volume (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.sync();
    await this.fh.close();
  }
}

/** A damaged or truncated stretch found while reading a volume. */
export interface VolumeProblem {
  readonly volser: string;
  readonly path: string;
  readonly offset: number;
  readonly kind: 'truncated' | 'corrupt';
  readonly reason: string;
  /** where reading resumed (the next valid superblock), or null when nothing valid followed */
  readonly resumedAt: number | null;
}

/** One superblock found on a volume. */
export interface FoundSuperblock extends SuperblockHeader {
  readonly volser: string;
}

export interface VolumeScan {
  readonly path: string;
  readonly label: DecodedLabel;
  readonly superblocks: FoundSuperblock[];
  readonly problems: VolumeProblem[];
  /** end of the last valid superblock */
  readonly validEnd: number;
  readonly size: number;
}

const CHUNK = 4 << 20;

/**
 * Reads a volume front to back, verifying every header and payload CRC. Tolerant: after a damaged
 * record it searches for the next record that declares its own offset and this volume's tag, and
 * reports the damaged stretch; a volume ending inside a record is reported as truncated. Memory is
 * one read buffer (a few MiB), whatever the volume size.
 */
export async function scanVolume(file: string, opts: { strict?: boolean } = {}): Promise<VolumeScan> {
  const fh = await openVolume(file, 'r');
  try {
    const label = await readLabelFrom(fh, file);
    const size = (await fh.stat()).size;
    const superblocks: FoundSuperblock[] = [];
    const problems: VolumeProblem[] = [];
    const report = (p: VolumeProblem) => {
      if (opts.strict)
        throw new TapeCorruptError(`${p.kind === 'truncated' ? 'truncated volume' : 'corrupt superblock'}: ${p.reason}`, {
          path: file,
          volser: label.volser,
          offset: p.offset,
        });
      problems.push(p);
    };
    const win = new Window(fh, Math.max(CHUNK, 2 * (MAX_SUPERBLOCK_HEADER + MAX_SUPERBLOCK_PAYLOAD)));
    let pos = label.length;
    let validEnd = pos;
    while (pos < size) {
      const bad = await recordAt(win, pos, size, label);
      if ('header' in bad) {
        superblocks.push({ ...bad.header, volser: label.volser });
        pos += bad.header.headerLength + bad.header.payloadLength;
        validEnd = pos;
        continue;
      }
      // Damaged or truncated here: look for the next authentic record.
      const next = await resync(win, pos + 1, size, label);
      report({
        volser: label.volser,
        path: file,
        offset: pos,
        kind: next === null && bad.truncated ? 'truncated' : 'corrupt',
        reason: bad.reason,
        resumedAt: next,
      });
      if (next === null) break;
      pos = next;
    }
    return { path: file, label, superblocks, problems, validEnd, size };
  } finally {
    await fh.close();
  }
}

type RecordCheck = { header: SuperblockHeader } | { reason: string; truncated: boolean };

/** Checks the record at `pos`: header CRC, declared offset, volume tag, stream, payload CRC. */
async function recordAt(win: Window, pos: number, size: number, label: DecodedLabel): Promise<RecordCheck> {
  const head = await win.get(pos, Math.min(MAX_SUPERBLOCK_HEADER, size - pos));
  const d = decodeSuperblockHeader(head);
  if (!d.ok) return { reason: d.reason, truncated: d.kind === 'short' };
  const h = d.header;
  if (h.offset !== pos) return { reason: `header declares offset ${h.offset}`, truncated: false };
  if (h.volumeTag !== label.tag) return { reason: 'header belongs to another volume (tag mismatch)', truncated: false };
  if (h.stream !== label.stream) return { reason: `superblock of stream ${h.stream} on a volume of ${label.stream}`, truncated: false };
  const end = pos + h.headerLength + h.payloadLength;
  if (end > size)
    return { reason: `volume ends inside the payload of ${h.clientFile} seq ${h.seq} (${size - pos - h.headerLength} of ${h.payloadLength} bytes)`, truncated: true };
  const payload = await win.get(pos + h.headerLength, h.payloadLength);
  const crc = crc32c(payload);
  if (crc !== h.payloadCrc)
    return { reason: `payload CRC32C mismatch in ${h.clientFile} seq ${h.seq}`, truncated: false };
  return { header: h };
}

/** Offset of the next authentic record at or after `from`, or null. */
async function resync(win: Window, from: number, size: number, label: DecodedLabel): Promise<number | null> {
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(SUPERBLOCK_MAGIC);
  let pos = from;
  while (pos + 4 <= size) {
    const n = Math.min(CHUNK, size - pos);
    const buf = await win.get(pos, n);
    let i = buf.indexOf(magic);
    while (i >= 0 && pos + i + 4 <= size) {
      const cand = pos + i;
      const r = await recordAt(win, cand, size, label);
      if ('header' in r) return cand;
      // win.get may have moved the window: re-fetch the chunk before searching further.
      const again = await win.get(pos, n);
      i = again.indexOf(magic, i + 1);
    }
    if (n < 4) break;
    pos += n - 3;
  }
  return null;
}

/** A sliding read window over a file: get(pos, n) returns a view valid until the next call. */
class Window {
  private buf: Buffer;
  private start = 0;
  private len = 0;

  constructor(
    private readonly fh: FileHandle,
    size: number,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  async get(pos: number, n: number): Promise<Buffer> {
    if (pos >= this.start && pos + n <= this.start + this.len) return this.buf.subarray(pos - this.start, pos - this.start + n);
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    this.start = pos;
    this.len = await readAt(this.fh, this.buf, pos);
    return this.buf.subarray(0, Math.min(n, this.len));
  }
}

/**
 * Reads one superblock at a known placement and verifies it (header CRC, offset, volume tag,
 * client file, sequence, payload CRC); throws TapeCorruptError with the position otherwise.
 */
export async function readSuperblockAt(dir: string, p: Placement): Promise<Buffer> {
  const file = volumePath(dir, p.volser);
  const fh = await openVolume(file, 'r');
  try {
    return await readPlaced(fh, file, await readLabelFrom(fh, file), p);
  } finally {
    await fh.close();
  }
}

async function readPlaced(fh: FileHandle, file: string, label: DecodedLabel, p: Placement): Promise<Buffer> {
  const where = { path: file, volser: p.volser, offset: p.offset };
  const head = Buffer.alloc(MAX_SUPERBLOCK_HEADER);
  const n = await readAt(fh, head, p.offset);
  const d = decodeSuperblockHeader(head.subarray(0, n));
  if (!d.ok) throw new TapeCorruptError(`${d.kind === 'short' ? 'truncated volume' : 'corrupt superblock'}: ${d.reason}`, where);
  const h = d.header;
  if (h.offset !== p.offset || h.volumeTag !== label.tag)
    throw new TapeCorruptError('superblock header does not belong at this place of this volume', where);
  if (h.clientFile !== p.clientFile || h.seq !== p.seq)
    throw new TapeCorruptError(`found ${h.clientFile} seq ${h.seq}, expected ${p.clientFile} seq ${p.seq}`, where);
  if (h.payloadLength !== p.length || h.payloadCrc !== p.crc >>> 0)
    throw new TapeCorruptError('superblock length or CRC differs from its placement record', where);
  const payload = Buffer.allocUnsafe(h.payloadLength);
  const got = await readAt(fh, payload, p.offset + h.headerLength);
  if (got < h.payloadLength)
    throw new TapeCorruptError(`truncated volume: ${got} of ${h.payloadLength} payload bytes`, { ...where, offset: p.offset + h.headerLength + got });
  if (crc32c(payload) !== h.payloadCrc) throw new TapeCorruptError(`payload CRC32C mismatch in ${p.clientFile} seq ${p.seq}`, where);
  return payload;
}

/**
 * Reads a client file back from its placements (any order): checks that the sequence numbers run
 * 0..n-1 with only the last one flagged last, seeks straight to each superblock (volumes opened
 * once each) and yields the verified payloads in order.
 */
export async function* readClientFile(dir: string, placements: readonly Placement[]): AsyncGenerator<Buffer> {
  if (placements.length === 0) throw new TapeValidationError('no placements given', 'placements');
  const name = placements[0].clientFile;
  const sorted = [...placements].sort((a, b) => a.seq - b.seq);
  sorted.forEach((p, i) => {
    if (p.clientFile !== name) throw new TapeValidationError(`placements of ${name} and ${p.clientFile} mixed`, 'placements');
    if (p.seq !== i) throw new TapeCorruptError(`${name}: superblock ${i} missing (next is seq ${p.seq})`);
    if (p.last !== (i === sorted.length - 1))
      throw new TapeCorruptError(`${name}: superblock ${p.seq} ${p.last ? 'is flagged last but more follow' : 'is the last one found but not flagged last'}`);
  });
  const open_ = new Map<string, { fh: FileHandle; file: string; label: DecodedLabel }>();
  try {
    for (const p of sorted) {
      let v = open_.get(p.volser);
      if (!v) {
        const file = volumePath(dir, p.volser);
        const fh = await openVolume(file, 'r');
        try {
          v = { fh, file, label: await readLabelFrom(fh, file) };
        } catch (e) {
          await fh.close();
          throw e;
        }
        open_.set(p.volser, v);
      }
      yield await readPlaced(v.fh, v.file, v.label, p);
    }
  } finally {
    for (const v of open_.values()) await v.fh.close();
  }
}

/** True if `file` exists (a helper for callers choosing the next free volser). */
export function volumeExists(dir: string, volser: string): boolean {
  return fs.existsSync(volumePath(dir, volser));
}
