import { crc32c } from '@deltaflow/checksum';
import { TapeCorruptError, TapeValidationError } from './errors';
import { assertClientFileId, assertStreamName } from './names';

/*
 * Superblock record on a volume, version 1, big-endian:
 *
 *   off  size  field
 *     0     4  magic "DFSB"
 *     4     1  version = 1
 *     5     1  flags: bit 0 = last superblock of its client file; other bits 0
 *     6     2  header length H (bytes, header CRC included)
 *     8     4  payload length P (0..262144)
 *    12     4  payload CRC32C
 *    16     8  sequence number of the superblock within its client file (0-based)
 *    24     8  offset of this record in its volume
 *    32     4  volume tag: the CRC of the volume's label
 *    36     1  stream name length S, then S bytes ASCII
 *  37+S     2  client file id length C, then C bytes ASCII
 *   H-4     4  header CRC32C over bytes [0, H-4)
 *     H     P  payload (bytes of ONE client file)
 *
 * Why offset and volume tag: a volume is scanned without a catalog, and after a damaged header the
 * scanner looks for the next record by its magic. A client file may itself contain superblock
 * images (a backup of a volume file), so a candidate only counts if it declares the very offset it
 * sits at and the tag of this volume incarnation: an embedded copy cannot satisfy both.
 */

export const SUPERBLOCK_MAGIC = 0x44465342; // "DFSB"
export const SUPERBLOCK_VERSION = 1;
/** At most 256 KiB of one client file's data per superblock. */
export const MAX_SUPERBLOCK_PAYLOAD = 256 * 1024;
const FIXED = 36;
/** Largest possible header: fixed part, 64-byte stream name, 255-byte client file id, lengths and CRC. */
export const MAX_SUPERBLOCK_HEADER = FIXED + 1 + 64 + 2 + 255 + 4;
/** The smallest header that can be valid (1-character names). */
export const MIN_SUPERBLOCK_HEADER = FIXED + 1 + 1 + 2 + 1 + 4;
const FLAG_LAST = 1;
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** One superblock of a client file, as a writer hands it over (crc of the payload optional; checked if given). */
export interface SuperblockInput {
  readonly stream: string;
  readonly clientFile: string;
  readonly seq: number;
  readonly last: boolean;
  readonly payload: Uint8Array;
  readonly crc?: number;
}

/** The decoded header of a superblock record. */
export interface SuperblockHeader {
  readonly stream: string;
  readonly clientFile: string;
  readonly seq: number;
  readonly last: boolean;
  readonly payloadLength: number;
  readonly payloadCrc: number;
  readonly offset: number;
  readonly volumeTag: number;
  readonly headerLength: number;
}

/** A superblock read back: its header and verified payload. */
export interface Superblock extends SuperblockHeader {
  readonly payload: Buffer;
}

/** Checks a superblock's names, sequence and payload size (and its crc if given); throws TapeValidationError/TapeCorruptError. */
export function assertSuperblockInput(sb: SuperblockInput): number {
  assertStreamName(sb.stream);
  assertClientFileId(sb.clientFile);
  if (!Number.isSafeInteger(sb.seq) || sb.seq < 0 || sb.seq > MAX_SEQ)
    throw new TapeValidationError(`sequence number ${sb.seq} must be a non-negative integer`, 'seq');
  if (typeof sb.last !== 'boolean') throw new TapeValidationError('last must be a boolean', 'last');
  if (!(sb.payload instanceof Uint8Array)) throw new TapeValidationError('payload must be bytes', 'payload');
  if (sb.payload.length > MAX_SUPERBLOCK_PAYLOAD)
    throw new TapeValidationError(
      `payload of ${sb.payload.length} bytes exceeds ${MAX_SUPERBLOCK_PAYLOAD} (256 KiB)`,
      'payload',
    );
  const crc = crc32c(sb.payload);
  if (sb.crc !== undefined && sb.crc >>> 0 !== crc)
    throw new TapeCorruptError(
      `payload CRC32C ${crc.toString(16)} of ${sb.clientFile} seq ${sb.seq} differs from the announced ${(sb.crc >>> 0).toString(16)}`,
    );
  return crc;
}

/** Size of the encoded record (header + payload) of a superblock. */
export function encodedSuperblockLength(sb: Pick<SuperblockInput, 'stream' | 'clientFile' | 'payload'>): number {
  return headerLength(sb.stream, sb.clientFile) + sb.payload.length;
}

function headerLength(stream: string, clientFile: string): number {
  return FIXED + 1 + stream.length + 2 + clientFile.length + 4;
}

/** Encodes a superblock record for placement at `offset` of the volume with label tag `volumeTag`. */
export function encodeSuperblock(sb: SuperblockInput, offset: number, volumeTag: number): Buffer {
  const crc = assertSuperblockInput(sb);
  const h = headerLength(sb.stream, sb.clientFile);
  const buf = Buffer.allocUnsafe(h + sb.payload.length);
  buf.writeUInt32BE(SUPERBLOCK_MAGIC, 0);
  buf.writeUInt8(SUPERBLOCK_VERSION, 4);
  buf.writeUInt8(sb.last ? FLAG_LAST : 0, 5);
  buf.writeUInt16BE(h, 6);
  buf.writeUInt32BE(sb.payload.length, 8);
  buf.writeUInt32BE(crc, 12);
  writeU64(buf, sb.seq, 16);
  writeU64(buf, offset, 24);
  buf.writeUInt32BE(volumeTag >>> 0, 32);
  let p = FIXED;
  buf.writeUInt8(sb.stream.length, p++);
  p += buf.write(sb.stream, p, 'latin1');
  buf.writeUInt16BE(sb.clientFile.length, p);
  p += 2;
  p += buf.write(sb.clientFile, p, 'latin1');
  buf.writeUInt32BE(crc32c(buf, 0, 0, p), p);
  Buffer.from(sb.payload.buffer, sb.payload.byteOffset, sb.payload.length).copy(buf, h);
  return buf;
}

/** Why a header did not decode: too few bytes to tell, or bytes that are not a valid header. */
export type HeaderDecode =
  | { readonly ok: true; readonly header: SuperblockHeader }
  | { readonly ok: false; readonly kind: 'short' | 'invalid'; readonly reason: string; readonly need?: number };

/**
 * Decodes the header at the start of `buf` (which may hold more bytes). Never throws: the scanner
 * needs to tell "truncated" (kind 'short') from "damaged" (kind 'invalid').
 */
export function decodeSuperblockHeader(buf: Buffer): HeaderDecode {
  if (buf.length < 8) return { ok: false, kind: 'short', reason: `only ${buf.length} bytes of a header`, need: 8 };
  if (buf.readUInt32BE(0) !== SUPERBLOCK_MAGIC) return { ok: false, kind: 'invalid', reason: 'no superblock magic' };
  if (buf.readUInt8(4) !== SUPERBLOCK_VERSION)
    return { ok: false, kind: 'invalid', reason: `unknown superblock version ${buf.readUInt8(4)}` };
  const h = buf.readUInt16BE(6);
  if (h < MIN_SUPERBLOCK_HEADER || h > MAX_SUPERBLOCK_HEADER)
    return { ok: false, kind: 'invalid', reason: `header length ${h} outside [${MIN_SUPERBLOCK_HEADER}, ${MAX_SUPERBLOCK_HEADER}]` };
  if (buf.length < h) return { ok: false, kind: 'short', reason: `only ${buf.length} of ${h} header bytes`, need: h };
  const stored = buf.readUInt32BE(h - 4);
  const actual = crc32c(buf, 0, 0, h - 4);
  if (stored !== actual)
    return { ok: false, kind: 'invalid', reason: `header CRC32C ${actual.toString(16)} differs from stored ${stored.toString(16)}` };
  // From here the header is authentic; remaining checks catch a buggy or hostile writer.
  const flags = buf.readUInt8(5);
  const payloadLength = buf.readUInt32BE(8);
  const s = buf.readUInt8(FIXED);
  const cAt = FIXED + 1 + s;
  if (cAt + 2 > h - 4) return { ok: false, kind: 'invalid', reason: 'stream name overruns the header' };
  const c = buf.readUInt16BE(cAt);
  if (cAt + 2 + c !== h - 4) return { ok: false, kind: 'invalid', reason: 'name lengths do not add up to the header length' };
  const seq = readU64(buf, 16);
  const offset = readU64(buf, 24);
  const stream = buf.toString('latin1', FIXED + 1, cAt);
  const clientFile = buf.toString('latin1', cAt + 2, cAt + 2 + c);
  const problems = [
    flags & ~FLAG_LAST && `unknown flags ${flags}`,
    payloadLength > MAX_SUPERBLOCK_PAYLOAD && `payload length ${payloadLength} exceeds 256 KiB`,
    seq === null && 'sequence number too large',
    offset === null && 'offset too large',
    !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(stream) && 'invalid stream name',
    !/^[\x21-\x7e]{1,255}$/.test(clientFile) && 'invalid client file id',
  ].filter(Boolean);
  if (problems.length) return { ok: false, kind: 'invalid', reason: problems.join('; ') };
  return {
    ok: true,
    header: {
      stream,
      clientFile,
      seq: seq as number,
      last: (flags & FLAG_LAST) !== 0,
      payloadLength,
      payloadCrc: buf.readUInt32BE(12),
      offset: offset as number,
      volumeTag: buf.readUInt32BE(32),
      headerLength: h,
    },
  };
}

/** Decodes a whole superblock record held in `buf` (exactly header + payload), verifying both CRCs; throws TapeCorruptError. */
export function decodeSuperblock(buf: Buffer): Superblock {
  const d = decodeSuperblockHeader(buf);
  if (!d.ok) throw new TapeCorruptError(`superblock header: ${d.reason}`);
  const end = d.header.headerLength + d.header.payloadLength;
  if (buf.length < end) throw new TapeCorruptError(`superblock truncated: ${buf.length} of ${end} bytes`);
  const crc = crc32c(buf, 0, d.header.headerLength, end);
  if (crc !== d.header.payloadCrc)
    throw new TapeCorruptError(
      `payload CRC32C ${crc.toString(16)} differs from stored ${d.header.payloadCrc.toString(16)} (${d.header.clientFile} seq ${d.header.seq})`,
    );
  return { ...d.header, payload: buf.subarray(d.header.headerLength, end) };
}

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / 2 ** 32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

/** Reads a u64 that must fit a safe integer; null otherwise. */
function readU64(buf: Buffer, at: number): number | null {
  const hi = buf.readUInt32BE(at);
  if (hi >= 2 ** 21) return null;
  return hi * 2 ** 32 + buf.readUInt32BE(at + 4);
}
