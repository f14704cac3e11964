import { createCipheriv, createDecipheriv, createHash, Hash, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { crc32c } from '@deltaflow/checksum';
import { TapeAuthError, TapeCorruptError, TapeKeyError, TapeStateError, TapeValidationError } from './errors';
import { assertCodecSpec, assertOpenRecord, CloseRecord, CodecSpec, FLAG_COMPRESSED, FLAG_ENCRYPTED, FLAG_LAST, hex, MAX_SUPERBLOCK_PAYLOAD, OpenRecord, RecordHeader, writeU64 } from './format';
import { incarnationBytes } from './names';

/*
 * Per-superblock codec: compression, then encryption, each superblock on its own so that a reader
 * can still seek straight to any superblock. Chosen per client file and recorded in its open record.
 *
 * - Compression: zstd (@mongodb-js/zstd, a prebuilt N-API binding), gzip or brotli (node:zlib). A
 *   superblock that does not shrink is stored as is (flag "compressed" clear).
 * - Encryption: AES-256-GCM with a random 256-bit data key per client file. The nonce is derived
 *   from (incarnation, sequence): the first 4 incarnation bytes and the u64 sequence, unique because
 *   the key is unique per client file and a session encodes each sequence number once. The
 *   associated data is the superblock's logical header (incarnation, sequence, last flag,
 *   plaintext length, compressed flag), so a superblock of another client file, or moved to another
 *   sequence number, fails authentication at once. The data key is wrapped with the operator's key
 *   (AES-256 key wrap, RFC 3394, which carries its own integrity check) and the wrapped key and the
 *   operator key's fingerprint go into the open record; a wrong operator key is refused by name.
 *   AES-GCM runs through WebCrypto (`crypto.subtle`), which Node runs on libuv's thread pool: the
 *   superblocks of a run are sealed in parallel, off the JavaScript thread (node:crypto's Cipheriv
 *   would seal them one by one on it); the output is the same bytes (ciphertext, then the 16-byte tag).
 * - Encrypted superblocks do not record a plaintext CRC (it would leak 32 bits per superblock):
 *   their content CRC is the CRC of the stored ciphertext, which is deterministic for one key,
 *   nonce and plaintext.
 */

// Loaded lazily: a process that never compresses with zstd never loads the native module. The
// package's index.js drops the level argument (1.2.2), so its N-API bindings are called directly.
let zstd: { compress(data: Buffer, level?: number): Promise<Buffer>; decompress(data: Buffer): Promise<Buffer> } | undefined;
function zstdBinding() {
  if (!zstd) zstd = require('@mongodb-js/zstd/bindings');
  return zstd as NonNullable<typeof zstd>;
}
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const brotli = promisify(zlib.brotliCompress);
const unbrotli = promisify(zlib.brotliDecompress);

const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');
const GCM_TAG = 16;

/** Fingerprint of an operator key (names it in open records and errors; reveals nothing of it). */
export function operatorKeyId(operatorKey: Buffer): string {
  assertKey(operatorKey, 'operatorKey');
  return createHash('sha256').update('deltaflow operator key\0').update(operatorKey).digest('hex').slice(0, 16);
}

function assertKey(k: Buffer, field: string): void {
  if (!Buffer.isBuffer(k) || k.length !== 32) throw new TapeValidationError(`${field} must be 32 bytes (AES-256)`, field);
}

/** A superblock as the multiplexer receives it (`crc`: CRC32C of the payload, already verified by the contract decode). */
export interface SuperblockInput {
  readonly seq: number;
  readonly last: boolean;
  readonly payload: Uint8Array;
  readonly crc: number;
}

/** A superblock ready to be written: stored body and the CRCs computed once. */
export interface EncodedSuperblock {
  readonly seq: number;
  readonly flags: number;
  readonly body: Buffer;
  readonly bodyCrc: number;
  readonly rawLength: number;
  readonly contentCrc: number;
}

/** Builds the codec spec of a new client file: wraps `dataKey` (random, passed in) with the operator key. */
export function codecSpec(opts: { compression?: CodecSpec['compression']; level?: number; operatorKey?: Buffer; dataKey?: Buffer }): CodecSpec {
  const compression = opts.compression ?? 'none';
  if (!opts.operatorKey) {
    const spec: CodecSpec = { compression, ...(opts.level !== undefined ? { level: opts.level } : {}), encryption: 'none' };
    assertCodecSpec(spec);
    return spec;
  }
  if (!opts.dataKey) throw new TapeValidationError('an encrypted client file needs a random 32-byte data key', 'dataKey');
  assertKey(opts.dataKey, 'dataKey');
  const c = createCipheriv('id-aes256-wrap', opts.operatorKey, KW_IV);
  const wrapped = Buffer.concat([c.update(opts.dataKey), c.final()]);
  const spec: CodecSpec = {
    compression,
    ...(opts.level !== undefined ? { level: opts.level } : {}),
    encryption: 'aes-256-gcm',
    keyId: operatorKeyId(opts.operatorKey),
    wrappedKey: wrapped.toString('base64'),
  };
  assertCodecSpec(spec);
  return spec;
}

/** Operator keys by fingerprint, or one key. */
export type Keyring = Buffer | ReadonlyMap<string, Buffer> | undefined;

function unwrapKey(spec: CodecSpec, keyring: Keyring, what: string): Buffer | undefined {
  if (spec.encryption === 'none') return undefined;
  const keyId = spec.keyId as string;
  const kek = Buffer.isBuffer(keyring) ? keyring : keyring?.get(keyId);
  if (!kek) throw new TapeKeyError(`${what} is encrypted with operator key ${keyId}; no operator key was given for it`, keyId);
  const offered = operatorKeyId(kek);
  if (offered !== keyId) throw new TapeKeyError(`${what} is encrypted with operator key ${keyId}; the key given is ${offered}`, keyId);
  try {
    const d = createDecipheriv('id-aes256-wrap', kek, KW_IV);
    return Buffer.concat([d.update(Buffer.from(spec.wrappedKey as string, 'base64')), d.final()]);
  } catch {
    throw new TapeKeyError(`${what}: the operator key ${keyId} does not unwrap its data key (wrapped key damaged)`, keyId);
  }
}

function nonce(incarnation: Buffer, seq: number): Buffer {
  const n = Buffer.alloc(12);
  incarnation.copy(n, 0, 0, 4);
  writeU64(n, seq, 4);
  return n;
}

function aad(incarnation: Buffer, seq: number, flags: number, rawLength: number): Buffer {
  const a = Buffer.alloc(4 + 16 + 8 + 1 + 4);
  a.write('DFS2', 0, 'latin1');
  incarnation.copy(a, 4);
  writeU64(a, seq, 20);
  a.writeUInt8(flags & (FLAG_LAST | FLAG_COMPRESSED), 28);
  a.writeUInt32BE(rawLength, 29);
  return a;
}

/** Encodes and decodes the superblocks of one client file (one data key, one codec spec). */
export class SuperblockCodec {
  private webKey?: Promise<webcrypto.CryptoKey>;

  private constructor(
    readonly incarnation: string,
    readonly spec: CodecSpec,
    private readonly inc: Buffer,
    private readonly key: Buffer | undefined,
  ) {}

  /** The data key as a WebCrypto key (imported once, not extractable). */
  private cryptoKey(): Promise<webcrypto.CryptoKey> {
    this.webKey ??= webcrypto.subtle.importKey('raw', this.key as Buffer, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    return this.webKey;
  }

  /** Opens the codec of a client file; KEY_REFUSED when it is encrypted and the keyring lacks its operator key. */
  static open(open: Pick<OpenRecord, 'incarnation' | 'codec' | 'clientFile'>, keyring?: Keyring): SuperblockCodec {
    assertCodecSpec(open.codec);
    const key = unwrapKey(open.codec, keyring, `client file ${open.clientFile} (${open.incarnation})`);
    return new SuperblockCodec(open.incarnation, open.codec, incarnationBytes(open.incarnation), key);
  }

  /** Compresses then encrypts one superblock; the carried CRC is trusted, each new body's CRC computed once. */
  async encode(sb: SuperblockInput): Promise<EncodedSuperblock> {
    const raw = Buffer.from(sb.payload.buffer, sb.payload.byteOffset, sb.payload.byteLength);
    if (raw.length > MAX_SUPERBLOCK_PAYLOAD) throw new TapeValidationError(`payload of ${raw.length} bytes exceeds 256 KiB`, 'payload');
    let body = raw;
    let flags = sb.last ? FLAG_LAST : 0;
    if (this.spec.compression !== 'none' && raw.length > 0) {
      const packed = await compress(this.spec, raw);
      if (packed.length < raw.length) {
        body = packed;
        flags |= FLAG_COMPRESSED;
      }
    }
    if (this.key) {
      const sealed = await webcrypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce(this.inc, sb.seq), additionalData: aad(this.inc, sb.seq, flags, raw.length), tagLength: GCM_TAG * 8 }, await this.cryptoKey(), body);
      body = Buffer.from(sealed);
      flags |= FLAG_ENCRYPTED;
      const crc = crc32c(body);
      return { seq: sb.seq, flags, body, bodyCrc: crc, rawLength: raw.length, contentCrc: crc };
    }
    const crc = sb.crc >>> 0;
    return { seq: sb.seq, flags, body, bodyCrc: flags & FLAG_COMPRESSED ? crc32c(body) : crc, rawLength: raw.length, contentCrc: crc };
  }

  /**
   * Decodes a stored superblock whose header and body CRC were verified: authenticates and
   * decrypts, decompresses, checks the plaintext length and (unencrypted) plaintext CRC.
   */
  async decode(h: RecordHeader, body: Buffer, where?: { volser?: string; offset: number }): Promise<Buffer> {
    let data = body;
    if (h.flags & FLAG_ENCRYPTED) {
      if (!this.key) throw new TapeCorruptError(`superblock ${h.seq} is encrypted but its client file's codec is not`, where);
      if (data.length < GCM_TAG) throw new TapeAuthError(`superblock ${h.seq} too short for its authentication tag`, where);
      const key = await this.cryptoKey();
      try {
        data = Buffer.from(await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce(this.inc, h.seq), additionalData: aad(this.inc, h.seq, h.flags, h.rawLength), tagLength: GCM_TAG * 8 }, key, data));
      } catch {
        throw new TapeAuthError(`superblock ${h.seq} of ${this.incarnation} fails authentication (another file's, another position's, or altered)`, where);
      }
    } else if (this.key) {
      throw new TapeAuthError(`superblock ${h.seq} of an encrypted client file is stored in clear`, where);
    }
    if (h.flags & FLAG_COMPRESSED) data = await decompress(this.spec, data, h.rawLength, where);
    if (data.length !== h.rawLength) throw new TapeCorruptError(`superblock ${h.seq}: ${data.length} bytes decoded, header says ${h.rawLength}`, where);
    if (!(h.flags & FLAG_ENCRYPTED)) {
      const c = h.flags & FLAG_COMPRESSED ? crc32c(data) : h.bodyCrc;
      if (c !== h.contentCrc) throw new TapeCorruptError(`superblock ${h.seq}: plaintext CRC32C ${hex(c)} differs from stored ${hex(h.contentCrc)}`, where);
    }
    return data;
  }
}

async function compress(spec: CodecSpec, raw: Buffer): Promise<Buffer> {
  switch (spec.compression) {
    case 'zstd':
      return zstdBinding().compress(raw, spec.level ?? 3);
    case 'gzip':
      return gzip(raw, { level: Math.min(spec.level ?? 6, 9) });
    case 'brotli':
      return brotli(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: Math.min(spec.level ?? 4, 11), [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
    case 'none':
      return raw;
  }
}

async function decompress(spec: CodecSpec, data: Buffer, rawLength: number, where?: { volser?: string; offset: number }): Promise<Buffer> {
  // Only authentic bytes get here (body CRC verified, and GCM when encrypted): a bomb would have to
  // be written by an authentic writer. zlib still gets an output cap.
  try {
    switch (spec.compression) {
      case 'zstd':
        return await zstdBinding().decompress(data);
      case 'gzip':
        return await gunzip(data, { maxOutputLength: rawLength + 1 });
      case 'brotli':
        return await unbrotli(data, { maxOutputLength: rawLength + 1 });
      case 'none':
        throw new Error('flagged compressed, but the client file has no compression');
    }
  } catch (e: any) {
    throw new TapeCorruptError(`superblock does not decompress (${spec.compression}): ${e?.message ?? e}`, where);
  }
}

/**
 * Write-side state of one client file in the multiplexer: its open record, codec, the next
 * sequence number and byte count, and the SHA-256 of its bytes (for the close record).
 */
export class ClientFileSession {
  private nextSeq: number;
  private bytesSoFar: number;
  private sawLast = false;
  private readonly hash: Hash | null;

  private constructor(
    readonly open: OpenRecord,
    readonly codec: SuperblockCodec,
    resume?: { nextSeq: number; bytes: number },
  ) {
    this.nextSeq = resume?.nextSeq ?? 0;
    this.bytesSoFar = resume?.bytes ?? 0;
    // After a restart the hash of the bytes before `nextSeq` is unknown: the close then trusts the writer's.
    this.hash = resume && resume.nextSeq > 0 ? null : createHash('sha256');
  }

  /** Starts a new client file (open.codec from `codecSpec`); `operatorKey` is needed to encrypt. */
  static start(open: OpenRecord, operatorKey?: Buffer): ClientFileSession {
    assertOpenRecord(open);
    return new ClientFileSession(open, SuperblockCodec.open(open, operatorKey));
  }

  /** Continues a client file after a restart of the multiplexer at `nextSeq` (its placements tell). */
  static resume(open: OpenRecord, state: { nextSeq: number; bytes: number }, operatorKey?: Buffer): ClientFileSession {
    assertOpenRecord(open);
    return new ClientFileSession(open, SuperblockCodec.open(open, operatorKey), state);
  }

  get incarnation(): string {
    return this.open.incarnation;
  }

  get superblocks(): number {
    return this.nextSeq;
  }

  get bytes(): number {
    return this.bytesSoFar;
  }

  get complete(): boolean {
    return this.sawLast;
  }

  /**
   * Encodes the next superblock. Sequence numbers must come 0, 1, 2, … (a duplicate delivery of
   * an already encoded one is refused: re-send its EncodedSuperblock instead, so that no nonce is
   * ever used for two plaintexts).
   */
  async encode(sb: SuperblockInput): Promise<EncodedSuperblock> {
    if (this.sawLast) throw new TapeStateError(`client file ${this.open.clientFile} (${this.incarnation}) already had its last superblock`);
    if (sb.seq !== this.nextSeq) throw new TapeStateError(`client file ${this.open.clientFile}: superblock ${sb.seq} arrived, expected ${this.nextSeq}`);
    const e = await this.codec.encode(sb);
    this.nextSeq++;
    this.bytesSoFar += sb.payload.length;
    this.sawLast = sb.last;
    this.hash?.update(sb.payload);
    return e;
  }

  /**
   * The close record. `sha256` from the writer is checked against this session's own hash when
   * the session saw every superblock; after a restart it is taken as given.
   */
  closeRecord(opts: { closedAt: number; sha256?: string }): CloseRecord {
    if (!this.sawLast) throw new TapeStateError(`client file ${this.open.clientFile} cannot close before its last superblock`);
    const own = this.hash ? this.hash.copy().digest('hex') : undefined;
    if (own && opts.sha256 && own !== opts.sha256) throw new TapeCorruptError(`client file ${this.open.clientFile}: SHA-256 ${own} of the bytes received differs from the writer's ${opts.sha256}`);
    const sha256 = own ?? opts.sha256;
    if (!sha256) throw new TapeValidationError('after a restart the close needs the writer’s sha256', 'sha256');
    return { incarnation: this.incarnation, superblocks: this.nextSeq, bytes: this.bytesSoFar, sha256, closedAt: opts.closedAt };
  }
}
