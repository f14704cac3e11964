import { crc32c } from '@deltaflow/checksum';
import { TapeCorruptError, TapeValidationError } from './errors';
import { assertStreamName, assertVolser } from './names';

/*
 * Volume label, at offset 0 of every volume file, version 1, big-endian:
 *
 *   off  size  field
 *     0     4  magic "DFVL"
 *     4     1  version = 1
 *     5     1  flags = 0
 *     6     2  label length L (label CRC included)
 *     8     8  created-at, ms since the epoch (passed in)
 *    16     4  volume sequence within the stream file (1-based)
 *    20     8  capacity of the volume in bytes (label included)
 *    28     1  volser length V, then V bytes
 *     .     1  stream name length, then the name
 *     .     1  stream file id length, then the id
 *   L-4     4  label CRC32C over [0, L-4); also the volume tag every superblock carries
 *
 * Superblocks follow immediately at offset L.
 */

export const LABEL_MAGIC = 0x4446564c; // "DFVL"
export const LABEL_VERSION = 1;
/** Largest label: fixed part, 6-byte volser, two 64-byte names, lengths and CRC. */
export const MAX_LABEL_LENGTH = 28 + 1 + 6 + 1 + 64 + 1 + 64 + 4;

/** What a volume label says. */
export interface VolumeLabel {
  readonly volser: string;
  readonly stream: string;
  readonly streamFile: string;
  /** 1-based position of this volume within its stream file */
  readonly sequence: number;
  readonly createdAt: number;
  readonly capacity: number;
}

/** A decoded label with its length and tag (CRC). */
export interface DecodedLabel extends VolumeLabel {
  readonly length: number;
  readonly tag: number;
}

/** Checks a label's fields; throws TapeValidationError naming the bad field. */
export function assertLabel(l: VolumeLabel): void {
  assertVolser(l.volser);
  assertStreamName(l.stream);
  assertStreamName(l.streamFile, 'streamFile');
  if (!Number.isInteger(l.sequence) || l.sequence < 1 || l.sequence > 0xffffffff)
    throw new TapeValidationError(`volume sequence ${l.sequence} must be an integer ≥ 1`, 'sequence');
  if (!Number.isSafeInteger(l.createdAt) || l.createdAt < 0)
    throw new TapeValidationError(`createdAt ${l.createdAt} must be ms since the epoch`, 'createdAt');
  if (!Number.isSafeInteger(l.capacity) || l.capacity < MAX_LABEL_LENGTH)
    throw new TapeValidationError(`capacity ${l.capacity} must be an integer ≥ ${MAX_LABEL_LENGTH}`, 'capacity');
}

/** Encodes a volume label; its last 4 bytes are the volume tag. */
export function encodeLabel(l: VolumeLabel): Buffer {
  assertLabel(l);
  const len = 28 + 1 + l.volser.length + 1 + l.stream.length + 1 + l.streamFile.length + 4;
  const buf = Buffer.alloc(len);
  buf.writeUInt32BE(LABEL_MAGIC, 0);
  buf.writeUInt8(LABEL_VERSION, 4);
  buf.writeUInt16BE(len, 6);
  writeU64(buf, l.createdAt, 8);
  buf.writeUInt32BE(l.sequence, 16);
  writeU64(buf, l.capacity, 20);
  let p = 28;
  for (const s of [l.volser, l.stream, l.streamFile]) {
    buf.writeUInt8(s.length, p++);
    p += buf.write(s, p, 'latin1');
  }
  buf.writeUInt32BE(crc32c(buf, 0, 0, p), p);
  return buf;
}

/** Decodes the label at the start of `buf`; throws TapeCorruptError saying what is wrong. */
export function decodeLabel(buf: Buffer): DecodedLabel {
  if (buf.length < 8) throw new TapeCorruptError(`volume too short for a label (${buf.length} bytes)`, { offset: 0 });
  if (buf.readUInt32BE(0) !== LABEL_MAGIC) throw new TapeCorruptError('no volume label magic', { offset: 0 });
  if (buf.readUInt8(4) !== LABEL_VERSION)
    throw new TapeCorruptError(`unknown label version ${buf.readUInt8(4)}`, { offset: 0 });
  const len = buf.readUInt16BE(6);
  if (len < 28 + 3 + 4 || len > MAX_LABEL_LENGTH)
    throw new TapeCorruptError(`label length ${len} out of range`, { offset: 0 });
  if (buf.length < len) throw new TapeCorruptError(`label truncated: ${buf.length} of ${len} bytes`, { offset: 0 });
  const tag = buf.readUInt32BE(len - 4);
  if (crc32c(buf, 0, 0, len - 4) !== tag) throw new TapeCorruptError('label CRC32C mismatch', { offset: 0 });
  const strings: string[] = [];
  let p = 28;
  for (let i = 0; i < 3; i++) {
    const n = buf.readUInt8(p++);
    if (p + n > len - 4) throw new TapeCorruptError('label names overrun the label', { offset: 0 });
    strings.push(buf.toString('latin1', p, p + n));
    p += n;
  }
  if (p !== len - 4) throw new TapeCorruptError('label names do not add up to the label length', { offset: 0 });
  const label: VolumeLabel = {
    createdAt: readU64(buf, 8),
    sequence: buf.readUInt32BE(16),
    capacity: readU64(buf, 20),
    volser: strings[0],
    stream: strings[1],
    streamFile: strings[2],
  };
  try {
    assertLabel(label);
  } catch (e) {
    if (e instanceof TapeValidationError) throw new TapeCorruptError(`label field: ${e.message}`, { offset: 0 });
    throw e;
  }
  return { ...label, length: len, tag };
}

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / 2 ** 32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  // Values beyond 2^53 fail assertLabel's safe-integer checks.
  return hi >= 2 ** 21 ? Number.NaN : hi * 2 ** 32 + buf.readUInt32BE(at + 4);
}
