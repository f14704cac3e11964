import { crc32c } from '@deltaflow/checksum';
import { TapeCorruptError, TapeValidationError } from './errors';
import { assertClientFileId, assertIncarnation, assertStreamName, assertVolser, incarnationBytes, incarnationFromBytes, NO_INCARNATION } from './names';

/*
 * Volume format, version 2. A volume is a sequence of records; on a file device they lie back to
 * back and a position is a byte offset, on a tape device each record is one tape block and a
 * position is a logical block number. Every record starts with the same 72-byte header
 * (big-endian):
 *
 *   off  size  field
 *     0     4  magic "DFV2"
 *     4     1  kind: L label, O open, S superblock, C close, A abort, K checkpoint, T trailer, E end
 *     5     1  flags: S: 1 last, 2 compressed, 4 encrypted; O: 1 continuation copy on a later volume
 *     6     2  header length = 72
 *     8     8  volume tag: 8 random bytes chosen when the volume was labelled
 *    16     8  position of this record on its volume (device units)
 *    24     4  body length B (bytes stored after the header)
 *    28     4  body CRC32C (of the stored bytes)
 *    32    16  incarnation of the client file (zeros in L, K, T, E)
 *    48     8  S: superblock sequence number; L: volume sequence; K: checkpoint number; else 0
 *    56     4  S: plaintext length; else B
 *    60     4  content CRC32C: S unencrypted: of the plaintext; otherwise = body CRC
 *    64     4  reserved, 0
 *    68     4  header CRC32C over [0, 68)
 *    72     B  body
 *
 * Why position and tag in every header: a scan has no catalog, and after damage it resynchronises
 * on the magic. A client file may itself hold images of volume records (a backup of a volume
 * file); a candidate only counts if it declares the position it lies at and the tag of this
 * volume, which no embedded copy can. The tag is repeated in every header, so a damaged label
 * costs nothing: the scan takes the tag of the authentic headers' majority.
 *
 * Bodies: L, O, C, A are JSON (small, rare, self-explaining); S is the (encoded) superblock
 * payload; K and T are an index (`encodeIndex`); E holds the trailer's position (u64).
 */

export const RECORD_MAGIC = 0x44465632; // "DFV2"
export const FORMAT_VERSION = 2;
export const HEADER_LENGTH = 72;
/** At most 256 KiB of one client file's data per superblock. */
export const MAX_SUPERBLOCK_PAYLOAD = 256 * 1024;
/** Largest stored superblock body: 256 KiB plus the codec's worst case (an uncompressed copy and a GCM tag). */
export const MAX_SUPERBLOCK_BODY = MAX_SUPERBLOCK_PAYLOAD + 64;
/** Metadata records (label, open, close, abort) stay small. */
export const MAX_META_BODY = 64 * 1024;
/** Index records (checkpoint, trailer) may be large on a big volume; capped before allocating. */
export const MAX_INDEX_BODY = 1 << 30;

export const FLAG_LAST = 1;
export const FLAG_COMPRESSED = 2;
export const FLAG_ENCRYPTED = 4;
export const FLAG_CONTINUATION = 1;

export type RecordKind = 'L' | 'O' | 'S' | 'C' | 'A' | 'K' | 'T' | 'E';
const KINDS = new Set<string>(['L', 'O', 'S', 'C', 'A', 'K', 'T', 'E']);

/** A decoded record header. */
export interface RecordHeader {
  readonly kind: RecordKind;
  readonly flags: number;
  /** volume tag, 16 hex digits */
  readonly tag: string;
  readonly position: number;
  readonly bodyLength: number;
  readonly bodyCrc: number;
  readonly incarnation: string;
  readonly seq: number;
  readonly rawLength: number;
  readonly contentCrc: number;
}

/** Position addressing of a device: bytes (file) or logical blocks, one record per block (tape). */
export type Addressing = 'byte' | 'block';

/** Extent of one record in position units. */
export function recordExtent(addressing: Addressing, bodyLength: number): number {
  return addressing === 'byte' ? HEADER_LENGTH + bodyLength : 1;
}

export function maxBody(kind: RecordKind): number {
  return kind === 'S' ? MAX_SUPERBLOCK_BODY : kind === 'K' || kind === 'T' ? MAX_INDEX_BODY : kind === 'E' ? 16 : MAX_META_BODY;
}

/** Encodes a header. `bodyCrc` is passed in: computed once by whoever produced the body. */
export function encodeHeader(h: RecordHeader): Buffer {
  const buf = Buffer.alloc(HEADER_LENGTH);
  buf.writeUInt32BE(RECORD_MAGIC, 0);
  buf.write(h.kind, 4, 'latin1');
  buf.writeUInt8(h.flags, 5);
  buf.writeUInt16BE(HEADER_LENGTH, 6);
  Buffer.from(h.tag, 'hex').copy(buf, 8);
  writeU64(buf, h.position, 16);
  buf.writeUInt32BE(h.bodyLength, 24);
  buf.writeUInt32BE(h.bodyCrc >>> 0, 28);
  incarnationBytes(h.incarnation).copy(buf, 32);
  writeU64(buf, h.seq, 48);
  buf.writeUInt32BE(h.rawLength, 56);
  buf.writeUInt32BE(h.contentCrc >>> 0, 60);
  buf.writeUInt32BE(crc32c(buf, 0, 0, 68), 68);
  return buf;
}

export type HeaderDecode =
  | { readonly ok: true; readonly header: RecordHeader }
  | { readonly ok: false; readonly kind: 'short' | 'invalid'; readonly reason: string };

/** Decodes the header at `buf[at..]`; never throws (a scan must tell "truncated" from "damaged"). */
export function decodeHeader(buf: Buffer, at = 0): HeaderDecode {
  const have = buf.length - at;
  if (have < 4) return { ok: false, kind: 'short', reason: `only ${have} bytes of a header` };
  if (buf.readUInt32BE(at) !== RECORD_MAGIC) return { ok: false, kind: 'invalid', reason: 'no record magic' };
  if (have < HEADER_LENGTH) return { ok: false, kind: 'short', reason: `only ${have} of ${HEADER_LENGTH} header bytes` };
  const stored = buf.readUInt32BE(at + 68);
  const actual = crc32c(buf, 0, at, at + 68);
  if (stored !== actual) return { ok: false, kind: 'invalid', reason: `header CRC32C ${hex(actual)} differs from stored ${hex(stored)}` };
  // From here the header is authentic; the remaining checks catch a buggy or hostile writer.
  const kind = buf.toString('latin1', at + 4, at + 5);
  const position = readU64(buf, at + 16);
  const seq = readU64(buf, at + 48);
  const bodyLength = buf.readUInt32BE(at + 24);
  const problems = [
    !KINDS.has(kind) && `unknown record kind ${JSON.stringify(kind)}`,
    buf.readUInt16BE(at + 6) !== HEADER_LENGTH && `header length ${buf.readUInt16BE(at + 6)}`,
    position === null && 'position too large',
    seq === null && 'sequence number too large',
    KINDS.has(kind) && bodyLength > maxBody(kind as RecordKind) && `body length ${bodyLength} too large for a ${kind} record`,
  ].filter(Boolean);
  if (problems.length) return { ok: false, kind: 'invalid', reason: problems.join('; ') };
  return {
    ok: true,
    header: {
      kind: kind as RecordKind,
      flags: buf.readUInt8(at + 5),
      tag: buf.toString('hex', at + 8, at + 16),
      position: position as number,
      bodyLength,
      bodyCrc: buf.readUInt32BE(at + 28),
      incarnation: incarnationFromBytes(buf.subarray(at + 32, at + 48)),
      seq: seq as number,
      rawLength: buf.readUInt32BE(at + 56),
      contentCrc: buf.readUInt32BE(at + 60),
    },
  };
}

/** Header plus JSON body for a metadata or index record. */
export function encodeRecord(kind: RecordKind, tag: string, position: number, body: Buffer, incarnation = NO_INCARNATION, seq = 0, flags = 0): Buffer[] {
  const crc = crc32c(body);
  return [
    encodeHeader({ kind, flags, tag, position, bodyLength: body.length, bodyCrc: crc, incarnation, seq, rawLength: body.length, contentCrc: crc }),
    body,
  ];
}

// ---------------------------------------------------------------------------------------------
// Bodies

/** What a volume label says (the L record at position 0, copied into every checkpoint and the trailer). */
export interface VolumeLabel {
  readonly volser: string;
  readonly stream: string;
  /** stream file id: the set of volumes holding one stream's interleaved data */
  readonly streamFile: string;
  /** 1-based position of this volume within its stream file */
  readonly sequence: number;
  readonly createdAt: number;
  /** capacity in bytes (records included) */
  readonly capacity: number;
  /** 16 hex digits, repeated in every record header */
  readonly tag: string;
  readonly addressing: Addressing;
  /** the volume before this one in the stream file, if any */
  readonly previousVolser?: string;
  /** bytes between checkpoint index records (tells a scan how far back the last one can be) */
  readonly checkpointEvery?: number;
}

/** Per-client-file codec, recorded in its open record. */
export interface CodecSpec {
  readonly compression: 'none' | 'zstd' | 'gzip' | 'brotli';
  readonly level?: number;
  readonly encryption: 'none' | 'aes-256-gcm';
  /** fingerprint of the operator key that wrapped the data key */
  readonly keyId?: string;
  /** the data key wrapped (AES-256 key wrap, RFC 3394) by the operator key, base64 */
  readonly wrappedKey?: string;
}

/** Start of a client file on a volume (Bareos' SOS label): everything the catalog knows about it. */
export interface OpenRecord {
  readonly incarnation: string;
  readonly clientFile: string;
  readonly stream: string;
  readonly dbid?: number;
  /** DSID with lineage, or any JSON the writer wants to find again; opaque here */
  readonly dsid?: unknown;
  readonly kind?: string;
  readonly expiresAt?: number;
  readonly description?: string;
  readonly openedAt: number;
  readonly codec: CodecSpec;
}

/** End of a client file (Bareos' EOS label). */
export interface CloseRecord {
  readonly incarnation: string;
  readonly superblocks: number;
  /** plaintext bytes of the client file */
  readonly bytes: number;
  /** SHA-256 of the client file's bytes, hex */
  readonly sha256: string;
  readonly closedAt: number;
}

/** A client file given up before its close: its superblocks must never be restored as a file. */
export interface AbortRecord {
  readonly incarnation: string;
  readonly reason: string;
  readonly abortedAt: number;
}

const TAG = /^[0-9a-f]{16}$/;
const SHA = /^[0-9a-f]{64}$/;

export function assertLabel(l: VolumeLabel): void {
  assertVolser(l.volser);
  assertStreamName(l.stream);
  assertStreamName(l.streamFile, 'streamFile');
  if (l.previousVolser !== undefined) assertVolser(l.previousVolser);
  if (!Number.isInteger(l.sequence) || l.sequence < 1 || l.sequence > 0xffffffff)
    throw new TapeValidationError(`volume sequence ${l.sequence} must be an integer ≥ 1`, 'sequence');
  if (!Number.isSafeInteger(l.createdAt) || l.createdAt < 0) throw new TapeValidationError(`createdAt ${l.createdAt} must be ms since the epoch`, 'createdAt');
  if (!Number.isSafeInteger(l.capacity) || l.capacity < 1 << 16) throw new TapeValidationError(`capacity ${l.capacity} must be an integer ≥ 64 KiB`, 'capacity');
  if (typeof l.tag !== 'string' || !TAG.test(l.tag)) throw new TapeValidationError('volume tag must be 16 lower-case hex digits', 'tag');
  if (l.addressing !== 'byte' && l.addressing !== 'block') throw new TapeValidationError('addressing must be byte or block', 'addressing');
  if (l.checkpointEvery !== undefined && (!Number.isSafeInteger(l.checkpointEvery) || l.checkpointEvery < 1 << 16))
    throw new TapeValidationError('checkpointEvery must be ≥ 64 KiB', 'checkpointEvery');
}

export function assertCodecSpec(c: CodecSpec): void {
  if (!c || !['none', 'zstd', 'gzip', 'brotli'].includes(c.compression)) throw new TapeValidationError(`unknown compression ${JSON.stringify(c?.compression)}`, 'codec.compression');
  if (c.level !== undefined && (!Number.isInteger(c.level) || c.level < 1 || c.level > 22)) throw new TapeValidationError('compression level must be 1..22', 'codec.level');
  if (!['none', 'aes-256-gcm'].includes(c.encryption)) throw new TapeValidationError(`unknown encryption ${JSON.stringify(c.encryption)}`, 'codec.encryption');
  if (c.encryption !== 'none' && (typeof c.keyId !== 'string' || typeof c.wrappedKey !== 'string'))
    throw new TapeValidationError('an encrypted client file needs keyId and wrappedKey', 'codec.wrappedKey');
}

export function assertOpenRecord(o: OpenRecord): void {
  assertIncarnation(o.incarnation);
  assertClientFileId(o.clientFile);
  assertStreamName(o.stream);
  if (o.dbid !== undefined && (!Number.isInteger(o.dbid) || o.dbid < 1 || o.dbid > 65535)) throw new TapeValidationError('dbid must be 1..65535', 'dbid');
  if (o.kind !== undefined && (typeof o.kind !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(o.kind))) throw new TapeValidationError('kind must be a short lower-case word', 'kind');
  if (o.expiresAt !== undefined && !isTime(o.expiresAt)) throw new TapeValidationError('expiresAt must be ms since the epoch', 'expiresAt');
  if (o.description !== undefined && (typeof o.description !== 'string' || o.description.length > 4096)) throw new TapeValidationError('description must be text of ≤ 4096 characters', 'description');
  if (!isTime(o.openedAt)) throw new TapeValidationError('openedAt must be ms since the epoch', 'openedAt');
  assertCodecSpec(o.codec);
  if (JSON.stringify(o).length > MAX_META_BODY - 1024) throw new TapeValidationError('open record too large (dsid or description)', 'dsid');
}

export function assertCloseRecord(c: CloseRecord): void {
  assertIncarnation(c.incarnation);
  if (!Number.isSafeInteger(c.superblocks) || c.superblocks < 0) throw new TapeValidationError('superblocks must be a count', 'superblocks');
  if (!Number.isSafeInteger(c.bytes) || c.bytes < 0) throw new TapeValidationError('bytes must be a count', 'bytes');
  if (typeof c.sha256 !== 'string' || !SHA.test(c.sha256)) throw new TapeValidationError('sha256 must be 64 lower-case hex digits', 'sha256');
  if (!isTime(c.closedAt)) throw new TapeValidationError('closedAt must be ms since the epoch', 'closedAt');
}

export function assertAbortRecord(a: AbortRecord): void {
  assertIncarnation(a.incarnation);
  if (typeof a.reason !== 'string' || a.reason.length < 1 || a.reason.length > 4096) throw new TapeValidationError('reason must be text of 1..4096 characters', 'reason');
  if (!isTime(a.abortedAt)) throw new TapeValidationError('abortedAt must be ms since the epoch', 'abortedAt');
}

function isTime(t: unknown): boolean {
  return typeof t === 'number' && Number.isSafeInteger(t) && t >= 0;
}

/** JSON body with keys in a fixed order (so equal records have equal bytes and digests). */
export function jsonBody(value: object): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Parses a JSON body and validates it with `assert`; corrupt data becomes TapeCorruptError. */
export function parseJsonBody<T>(body: Buffer, what: string, assert: (v: T) => void): T {
  let v: T;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new TapeCorruptError(`${what} body is not JSON`);
  }
  try {
    assert(v);
  } catch (e) {
    if (e instanceof TapeValidationError) throw new TapeCorruptError(`${what} field: ${e.message}`);
    throw e;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Index bodies (K checkpoint, T trailer)

/** One run as listed in an index and reported in a placement. */
export interface RunEntry {
  readonly incarnation: string;
  readonly firstSeq: number;
  readonly count: number;
  /** the run ends with the client file's last superblock */
  readonly last: boolean;
  readonly position: number;
  /** extent in position units (bytes on a file device, blocks on a tape device) */
  readonly extent: number;
  /** plaintext bytes of the client file in this run */
  readonly bytes: number;
  /** content CRC of each superblock (plaintext CRC32C, or body CRC32C when encrypted) */
  readonly crcs: readonly number[];
}

/** Metadata records listed in an index, with their positions. */
export interface IndexMeta {
  readonly label: VolumeLabel;
  /** K: checkpoint number (1-based); T: 0 */
  readonly number: number;
  /** first position this index covers (K: just after the previous checkpoint; T: the label) */
  readonly from: number;
  /** position of the previous checkpoint, or null */
  readonly previous: number | null;
  readonly opens: ReadonlyArray<{ readonly position: number; readonly record: OpenRecord; readonly continuation: boolean }>;
  readonly closes: ReadonlyArray<{ readonly position: number; readonly record: CloseRecord }>;
  readonly aborts: ReadonlyArray<{ readonly position: number; readonly record: AbortRecord }>;
  /** T only: the volume that continues the stream file, and when the volume was finished */
  readonly nextVolser?: string | null;
  readonly finishedAt?: number;
}

export interface IndexBody {
  readonly meta: IndexMeta;
  readonly runs: readonly RunEntry[];
}

const RUN_FIXED = 56;

/**
 *   u32 JSON length J, J bytes JSON (IndexMeta), u32 run count, then per run:
 *   16 incarnation, u64 first seq, u32 count, u8 flags (1 last), 3 reserved, u64 position,
 *   u64 extent, u64 bytes, count × u32 content CRC.
 */
export function encodeIndex(body: IndexBody): Buffer {
  const json = jsonBody(body.meta);
  let size = 4 + json.length + 4;
  for (const r of body.runs) size += RUN_FIXED + 4 * r.count;
  const buf = Buffer.alloc(size);
  let p = 0;
  buf.writeUInt32BE(json.length, p);
  p += 4;
  p += json.copy(buf, p);
  buf.writeUInt32BE(body.runs.length, p);
  p += 4;
  for (const r of body.runs) {
    incarnationBytes(r.incarnation).copy(buf, p);
    writeU64(buf, r.firstSeq, p + 16);
    buf.writeUInt32BE(r.count, p + 24);
    buf.writeUInt8(r.last ? 1 : 0, p + 28);
    writeU64(buf, r.position, p + 32);
    writeU64(buf, r.extent, p + 40);
    writeU64(buf, r.bytes, p + 48);
    p += RUN_FIXED;
    for (const c of r.crcs) {
      buf.writeUInt32BE(c >>> 0, p);
      p += 4;
    }
  }
  return buf;
}

/** Decodes an index body (already CRC-checked); throws TapeCorruptError on any inconsistency. */
export function decodeIndex(buf: Buffer): IndexBody {
  const bad = (why: string): never => {
    throw new TapeCorruptError(`index record: ${why}`);
  };
  if (buf.length < 8) bad('too short');
  const j = buf.readUInt32BE(0);
  if (4 + j + 4 > buf.length) bad('JSON overruns the body');
  const meta = parseJsonBody<IndexMeta>(buf.subarray(4, 4 + j), 'index', (m) => {
    if (typeof m !== 'object' || m === null) throw new TapeValidationError('not an object', 'meta');
    assertLabel(m.label);
    for (const o of m.opens) assertOpenRecord(o.record);
    for (const c of m.closes) assertCloseRecord(c.record);
    for (const a of m.aborts) assertAbortRecord(a.record);
  });
  let p = 4 + j;
  const n = buf.readUInt32BE(p);
  p += 4;
  const runs: RunEntry[] = [];
  for (let i = 0; i < n; i++) {
    if (p + RUN_FIXED > buf.length) bad('run list overruns the body');
    const count = buf.readUInt32BE(p + 24);
    const fields = [readU64(buf, p + 16), readU64(buf, p + 32), readU64(buf, p + 40), readU64(buf, p + 48)];
    if (fields.some((f) => f === null)) bad('run field too large');
    if (p + RUN_FIXED + 4 * count > buf.length) bad('run CRCs overrun the body');
    const crcs: number[] = [];
    for (let k = 0; k < count; k++) crcs.push(buf.readUInt32BE(p + RUN_FIXED + 4 * k));
    runs.push({
      incarnation: incarnationFromBytes(buf.subarray(p, p + 16)),
      firstSeq: fields[0] as number,
      count,
      last: (buf.readUInt8(p + 28) & 1) === 1,
      position: fields[1] as number,
      extent: fields[2] as number,
      bytes: fields[3] as number,
      crcs,
    });
    p += RUN_FIXED + 4 * count;
  }
  if (p !== buf.length) bad('trailing bytes after the run list');
  return { meta, runs };
}

/** Size of an index body holding `runs` (for reserving trailer room). */
export function runEntrySize(count: number): number {
  return RUN_FIXED + 4 * count;
}

export function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / 2 ** 32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

/** Reads a u64 that must fit a safe integer; null otherwise. */
export function readU64(buf: Buffer, at: number): number | null {
  const hi = buf.readUInt32BE(at);
  if (hi >= 2 ** 21) return null;
  return hi * 2 ** 32 + buf.readUInt32BE(at + 4);
}

export function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
