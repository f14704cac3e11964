/*
 * Save data set layout, version 1 (all integers little-endian):
 *
 *   file    := header record* trailer
 *   header  := magic[8] = "DFSAVE\r\n"  version:u16 = 1  flags:u16 = 0  jsonLength:u32
 *              json[jsonLength] (UTF-8 SaveHeader)  crc:u32 (CRC-32C of all header bytes before it)
 *   record  := tag:u8 = 0x42 'B'  area:u8 (1 ASSO, 2 DATA)  reserved:u16 = 0  rabn:u32  length:u32
 *              image[length]  crc:u32 (CRC-32C of tag..image)
 *   trailer := tag:u8 = 0x54 'T'  reserved[3]  assoRecords:u64  dataRecords:u64  recordBytes:u64
 *              digest[32]  crc:u32 (CRC-32C of tag..digest)
 *
 * Records are strictly increasing in (area, RABN); length equals the area's block size.
 * digest = SHA-256 over (area:u8, rabn:u32, crc:u32) of every record in order: each image is
 * covered by its own CRC, the digest binds the set, order and CRCs of all records together
 * (so a dropped, duplicated, reordered or swapped record fails) without hashing every byte twice.
 * The "\r\n" in the magic catches text-mode mangling.
 */
import { crc32c } from '@deltaflow/checksum';
import { validateDbid } from '@deltaflow/blockdb';
import { validateGeometry, type Geometry } from '@deltaflow/blocks';
import { DATA_SET_KINDS, type DataSetDescriptor, type DataSetKind, type Dsid } from '@deltaflow/dsid';
import { SaveFormatError } from './errors';

export const MAGIC = Buffer.from('DFSAVE\r\n', 'latin1');
export const FORMAT_VERSION = 1;
export const HEADER_PREFIX = 16; // magic + version + flags + jsonLength
export const MAX_HEADER_JSON = 1 << 20;
export const RECORD_TAG = 0x42;
export const TRAILER_TAG = 0x54;
export const RECORD_HEAD = 12; // tag, area, reserved, rabn, length
export const RECORD_OVERHEAD = RECORD_HEAD + 4;
export const TRAILER_SIZE = 64;
export const DIGEST_ENTRY = 9; // area:u8 rabn:u32 crc:u32


/** The header of a save data set. LSNs are the start and end sync points of the save. */
export interface SaveHeader {
  readonly dbid: number;
  /** DSID with lineage; for a DSIM, the DSID of the online save it belongs to */
  readonly dsid: Dsid;
  /** full save, delta save, or a DSIM (unloaded, or a copy of the original) */
  readonly kind: DataSetKind;
  /** taken while the nucleus was active (needs its DSIM to be consistent) */
  readonly online: boolean;
  readonly startLsn: number;
  readonly endLsn: number;
  readonly geometry: Geometry;
}

/** Counts and digest from a verified (or just written) trailer. */
export interface SaveTrailer {
  readonly assoRecords: number;
  readonly dataRecords: number;
  readonly recordBytes: number;
  /** hex SHA-256, see the layout comment */
  readonly digest: string;
}

/** Kind names of headers written before the kinds got their one name. */
const LEGACY_KINDS: Readonly<Record<string, DataSetKind>> = { 'dsim-unloaded': 'unloaded-dsim', 'dsim-original': 'original-dsim' };
const isSafeNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Throws VALIDATION unless `h` is a well-formed SaveHeader; returns a normalized copy. */
export function validateSaveHeader(h: unknown): SaveHeader {
  const bad = (m: string): never => {
    throw new SaveFormatError('VALIDATION', `save header: ${m}`);
  };
  if (typeof h !== 'object' || h === null) bad('must be an object');
  const x = h as Record<string, any>;
  let dbid = 0;
  let geometry: Geometry | undefined;
  try {
    dbid = validateDbid(x.dbid);
    geometry = validateGeometry(x.geometry);
  } catch (e) {
    bad((e as Error).message);
  }
  const d = x.dsid;
  if (typeof d !== 'object' || d === null) bad('dsid must be an object');
  if (!isSafeNat(d.full) || !isSafeNat(d.deltaFrom) || !isSafeNat(d.deltaTo) || d.deltaTo < d.deltaFrom)
    bad('dsid numbers must be non-negative integers with deltaFrom <= deltaTo');
  if (!isSafeNat(d.timestamp)) bad('dsid.timestamp must be a non-negative integer (ms since the epoch)');
  if (typeof d.lineage !== 'string' || d.lineage.length === 0 || d.lineage.length > 200)
    bad('dsid.lineage must be a non-empty string of at most 200 characters');
  const kind: DataSetKind | undefined = DATA_SET_KINDS.includes(x.kind) ? x.kind : LEGACY_KINDS[x.kind];
  if (kind === undefined) bad(`kind must be one of ${DATA_SET_KINDS.join(', ')}`);
  if (typeof x.online !== 'boolean') bad('online must be a boolean');
  if (!isSafeNat(x.startLsn) || !isSafeNat(x.endLsn) || x.endLsn < x.startLsn)
    bad('startLsn and endLsn must be non-negative integers with startLsn <= endLsn');
  return {
    dbid,
    dsid: { full: d.full, deltaFrom: d.deltaFrom, deltaTo: d.deltaTo, timestamp: d.timestamp, lineage: d.lineage },
    kind: kind!,
    online: x.online,
    startLsn: x.startLsn,
    endLsn: x.endLsn,
    geometry: geometry as Geometry,
  };
}

/**
 * Encodes a validated header into its on-disk bytes (prefix, JSON, CRC). `jsonLength` pads the
 * JSON with trailing spaces (valid JSON whitespace) to that length, so a header can later be
 * rewritten in place with a longer value (see DataSetWriter.setEndLsn); VALIDATION if it does not fit.
 */
export function encodeHeader(h: SaveHeader, jsonLength = 0): Buffer {
  let json = Buffer.from(JSON.stringify(validateSaveHeader(h)), 'utf8');
  if (jsonLength > 0) {
    if (json.length > jsonLength) throw new SaveFormatError('VALIDATION', `save header JSON of ${json.length} bytes does not fit the ${jsonLength} reserved`);
    json = Buffer.concat([json, Buffer.alloc(jsonLength - json.length, 0x20)]);
  }
  if (json.length > MAX_HEADER_JSON) throw new SaveFormatError('VALIDATION', `save header JSON exceeds ${MAX_HEADER_JSON} bytes`);
  const out = Buffer.alloc(HEADER_PREFIX + json.length + 4);
  MAGIC.copy(out, 0);
  out.writeUInt16LE(FORMAT_VERSION, 8);
  out.writeUInt16LE(0, 10);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, HEADER_PREFIX);
  out.writeUInt32LE(crc32c(out, 0, 0, HEADER_PREFIX + json.length), HEADER_PREFIX + json.length);
  return out;
}

/** Checks the fixed header prefix and returns the JSON length (before anything larger is read). */
export function decodeHeaderPrefix(prefix: Uint8Array): number {
  if (prefix.length < HEADER_PREFIX) throw new SaveFormatError('TRUNCATED', 'file ends inside the header', prefix.length);
  const b = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.length);
  if (!b.subarray(0, 8).equals(MAGIC)) throw new SaveFormatError('NOT_A_DATA_SET', 'bad magic: not a save data set', 0);
  const version = b.readUInt16LE(8);
  if (version !== FORMAT_VERSION) throw new SaveFormatError('UNSUPPORTED_VERSION', `format version ${version}`, 8);
  const len = b.readUInt32LE(12);
  if (len === 0 || len > MAX_HEADER_JSON) throw new SaveFormatError('CORRUPT_DATA', `header JSON length ${len}`, 12);
  return len;
}

/** Decodes and verifies a complete header (`bytes` = prefix + JSON + CRC). */
export function decodeHeader(bytes: Uint8Array): SaveHeader {
  const len = decodeHeaderPrefix(bytes);
  const total = HEADER_PREFIX + len + 4;
  if (bytes.length < total) throw new SaveFormatError('TRUNCATED', 'file ends inside the header', bytes.length);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, total);
  if (b.readUInt32LE(HEADER_PREFIX + len) !== crc32c(b, 0, 0, HEADER_PREFIX + len))
    throw new SaveFormatError('CORRUPT_DATA', 'header CRC mismatch', HEADER_PREFIX + len);
  let json: unknown;
  try {
    json = JSON.parse(b.toString('utf8', HEADER_PREFIX, HEADER_PREFIX + len));
  } catch {
    throw new SaveFormatError('CORRUPT_DATA', 'header JSON unreadable', HEADER_PREFIX);
  }
  try {
    return validateSaveHeader(json);
  } catch (e) {
    throw new SaveFormatError('CORRUPT_DATA', (e as Error).message, HEADER_PREFIX);
  }
}

/** The descriptor the DSID rules (validateMerge / validateRestoreDelta) look at. */
export function toDescriptor(name: string, h: SaveHeader): DataSetDescriptor {
  return { name, dbid: h.dbid, kind: h.kind, dsid: h.dsid, online: h.online };
}
