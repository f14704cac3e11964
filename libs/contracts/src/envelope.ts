/**
 * The binary envelope: the one wire format of every Deltaflow message value.
 *
 *   offset  size  field
 *   0       1     magic 0x44 ('D')
 *   1       1     envelope version (1)
 *   2       4     N: length of the JSON header, unsigned 32-bit big-endian (≤ 4 MiB)
 *   6       N     JSON header, UTF-8: {"type": string, "version": int, "fields": {...}, "bytes": [len | null, ...]}
 *   6+N     ...   the raw bytes of the message's bytes fields, concatenated in declaration order
 *
 * `fields` holds every field except the bytes fields; `bytes` lists one length per bytes
 * field (null when an optional one is absent) and is omitted for messages without bytes.
 * The tail must be exactly the sum of those lengths. Bulk data (block images, superblock
 * payloads) therefore never passes through JSON or base64, and a decoder sees the type
 * and version before touching the tail.
 *
 * Kafka headers `df-type` and `df-version` repeat the type and version so tools and
 * filters can route without decoding; the envelope is authoritative and decoding never
 * reads the headers.
 */
import { ContractError } from './errors';

export const ENVELOPE_MAGIC = 0x44;
export const ENVELOPE_VERSION = 1;
export const ENVELOPE_PREFIX = 6;
export const MAX_JSON_HEADER = 4 * 1024 * 1024;

export interface RawEnvelope {
  readonly type: string;
  readonly version: number;
  readonly fields: Record<string, unknown>;
  /** one entry per bytes field, in declaration order; views into the input buffer */
  readonly bytes: readonly (Buffer | null)[];
}

/** Builds an envelope; `fields` must already be valid and free of bytes. */
export function writeEnvelope(type: string, version: number, fields: Record<string, unknown>, tails: readonly (Uint8Array | null)[]): Buffer {
  const parts: Uint8Array[] = [writeEnvelopeHead(type, version, fields, tails)];
  for (const t of tails) if (t !== null) parts.push(t);
  return Buffer.concat(parts);
}

/**
 * The envelope up to its tail (prefix and JSON header): followed by the non-null tails, in order,
 * it is byte for byte what writeEnvelope builds. For producers that send the tails without
 * copying them (the bulk producer writes head and payload with one writev).
 */
export function writeEnvelopeHead(type: string, version: number, fields: Record<string, unknown>, tails: readonly (Uint8Array | null)[]): Buffer {
  const header: Record<string, unknown> = { type, version, fields };
  if (tails.length > 0) header.bytes = tails.map((t) => (t === null ? null : t.length));
  const json = JSON.stringify(header);
  const jsonLength = Buffer.byteLength(json, 'utf8');
  if (jsonLength > MAX_JSON_HEADER) {
    throw new ContractError('VALIDATION', `${type}: JSON header of ${jsonLength} bytes exceeds ${MAX_JSON_HEADER}`, undefined, type);
  }
  const head = Buffer.allocUnsafe(ENVELOPE_PREFIX + jsonLength);
  head.writeUInt8(ENVELOPE_MAGIC, 0);
  head.writeUInt8(ENVELOPE_VERSION, 1);
  head.writeUInt32BE(jsonLength, 2);
  head.write(json, ENVELOPE_PREFIX, 'utf8');
  return head;
}

function envelopeError(code: 'VALIDATION' | 'TRUNCATED' | 'UNSUPPORTED_VERSION', part: string, message: string): ContractError {
  return new ContractError(code, `envelope.${part}: ${message}`, `envelope.${part}`);
}

/** Splits an envelope into header and tails, checking framing only (not the message schema). */
export function readEnvelope(value: Uint8Array | null | undefined): RawEnvelope {
  if (value === null || value === undefined) throw envelopeError('VALIDATION', 'value', 'expected a message value, got nothing (tombstone?)');
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (buf.length < ENVELOPE_PREFIX) throw envelopeError('TRUNCATED', 'prefix', `expected at least ${ENVELOPE_PREFIX} bytes, got ${buf.length}`);
  const magic = buf.readUInt8(0);
  if (magic !== ENVELOPE_MAGIC) {
    throw envelopeError('VALIDATION', 'magic', `expected 0x44 ('D'), got 0x${magic.toString(16).padStart(2, '0')}: not a Deltaflow envelope`);
  }
  const version = buf.readUInt8(1);
  if (version !== ENVELOPE_VERSION) throw envelopeError('UNSUPPORTED_VERSION', 'version', `expected ${ENVELOPE_VERSION}, got ${version}`);
  const jsonLength = buf.readUInt32BE(2);
  if (jsonLength > MAX_JSON_HEADER) throw envelopeError('VALIDATION', 'length', `JSON header length ${jsonLength} exceeds ${MAX_JSON_HEADER}`);
  if (buf.length < ENVELOPE_PREFIX + jsonLength) {
    throw envelopeError('TRUNCATED', 'json', `header announces ${jsonLength} bytes of JSON, only ${buf.length - ENVELOPE_PREFIX} present`);
  }
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', ENVELOPE_PREFIX, ENVELOPE_PREFIX + jsonLength));
  } catch (err) {
    throw envelopeError('VALIDATION', 'json', `malformed JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw envelopeError('VALIDATION', 'json', 'expected a JSON object');
  const h = header as Record<string, unknown>;
  for (const key of Object.keys(h)) {
    if (!['type', 'version', 'fields', 'bytes'].includes(key)) throw envelopeError('VALIDATION', key, 'unknown envelope field');
  }
  if (typeof h.type !== 'string' || h.type.length === 0) throw new ContractError('VALIDATION', `envelope.type: expected a message type name, got ${JSON.stringify(h.type) ?? 'nothing'}`, 'type');
  if (typeof h.version !== 'number' || !Number.isSafeInteger(h.version) || h.version < 1) {
    throw new ContractError('UNSUPPORTED_VERSION', `${h.type}.version: expected positive integer, got ${JSON.stringify(h.version) ?? 'nothing'}`, 'version', h.type);
  }
  if (typeof h.fields !== 'object' || h.fields === null || Array.isArray(h.fields)) {
    throw new ContractError('VALIDATION', `${h.type}: envelope.fields must be an object`, 'fields', h.type);
  }
  const lengths = h.bytes === undefined ? [] : h.bytes;
  if (!Array.isArray(lengths) || !lengths.every((l) => l === null || (typeof l === 'number' && Number.isSafeInteger(l) && l >= 0))) {
    throw new ContractError('VALIDATION', `${h.type}: envelope.bytes must be an array of lengths or nulls`, 'envelope.bytes', h.type);
  }
  let at = ENVELOPE_PREFIX + jsonLength;
  const tails: (Buffer | null)[] = [];
  for (const length of lengths as (number | null)[]) {
    if (length === null) {
      tails.push(null);
      continue;
    }
    if (at + length > buf.length) {
      throw new ContractError('TRUNCATED', `${h.type}: envelope announces ${length} bytes at offset ${at}, only ${buf.length - at} present`, 'envelope.bytes', h.type);
    }
    tails.push(buf.subarray(at, at + length));
    at += length;
  }
  if (at !== buf.length) {
    throw new ContractError('VALIDATION', `${h.type}: ${buf.length - at} unexpected trailing bytes after the envelope`, 'envelope.bytes', h.type);
  }
  return { type: h.type, version: h.version, fields: h.fields as Record<string, unknown>, bytes: tails };
}
