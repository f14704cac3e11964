/**
 * sov.superblocks, sov.commands, sov.events: the streaming backup side. Key: stream name.
 *
 * Choices where DESIGN is vague:
 * - Every written client file has an `incarnation`: a random UUID chosen by its writer at open,
 *   carried by every superblock and every message about the file, and written on tape in every
 *   superblock header. Everything is keyed on it: the same client file name on two streams, or a
 *   name reused after a restore, never merge. `seq` numbers superblocks from 0; `last` marks the
 *   final one. Superblock.crc is the CRC-32C of the payload, checked on encode and decode (a
 *   mismatch is a VALIDATION error on `crc`); the multiplexer carries it and never recomputes it.
 * - Rates are bytes/s; volume capacity is in bytes. A bare StreamDefine is valid: the multiplexer
 *   applies its defaults (min 1, max 1 device; its configured capacity; no objective).
 * - A device is named (`device`), unique within its stream.
 * - Placement is per RUN (libs/tape): up to K consecutive superblocks of one client file written
 *   together; RunPlaced is published once the run is durable. `position` is opaque (byte offset on
 *   a file device, logical block on a tape drive), `length` is the run's extent in the same units,
 *   `bytes` its plaintext bytes, `crcs` the content CRC of each superblock (plaintext CRC-32C, or of
 *   the stored ciphertext when encrypted).
 * - Open and close carry what the catalog needs and what the volume's open/close records hold
 *   (dbid, DSID, kind, expiry, description, codec, superblock count, bytes, SHA-256), so the catalog
 *   can be rebuilt exactly from volumes (SCANSTREAMFILE).
 * - Version 1 of the messages that gained `incarnation` cannot be upgraded (nothing can invent the
 *   id): decoding one is an UNSUPPORTED_VERSION error. No version-1 sov data exists.
 */
import { crc32c } from '@deltaflow/checksum';
import { dbid, DsidSchema, id, name, streamName, text, timestamp, volser } from '../common';
import { defineMessage, type KafkaRecord, type KafkaRecordParts, type MessageOf } from '../define';
import { array, boolean, bytes, enumOf, int, object, optional, posint, string, uint, uint32 } from '../schema';

export const MAX_SUPERBLOCK_PAYLOAD = 256 * 1024;
/** Most superblocks in one run (RunPlaced.crcs). */
export const MAX_RUN_SUPERBLOCKS = 1024;
const occurredAt = timestamp;
const device = () => name();
/** A client file's incarnation: a lower-case UUID. */
export const incarnation = () =>
  string({ minLength: 36, maxLength: 36, pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, patternName: 'incarnation (lower-case UUID)' });
const sha256 = () => string({ minLength: 64, maxLength: 64, pattern: /^[0-9a-f]{64}$/, patternName: 'SHA-256 of 64 lower-case hex digits' });
const streamFile = () => streamName();
const bytesPerSec = () => posint(1e12);
export const COMPRESSIONS = ['none', 'zstd', 'gzip', 'brotli'] as const;
export const ENCRYPTIONS = ['none', 'aes-256-gcm'] as const;
export const CLIENT_FILE_KINDS = ['full', 'delta', 'dsim', 'merge', 'catalog', 'other'] as const;
const keyId = () => string({ minLength: 16, maxLength: 16, pattern: /^[0-9a-f]{16}$/, patternName: 'operator key id of 16 hex digits' });
const wrappedKey = () => string({ minLength: 8, maxLength: 128, pattern: /^[A-Za-z0-9+/]+=*$/, patternName: 'wrapped data key, base64' });
const MB = 1_000_000;
/** v1 rates were whole MB/s. */
const mbpsToBytes = (f: Record<string, unknown>, from: string, to: string) => {
  const { [from]: v, ...rest } = f;
  return v === undefined ? rest : { ...rest, [to]: (v as number) * MB };
};

const superblockFields = {
  stream: streamName(),
  clientFile: name(),
  incarnation: incarnation(),
  seq: uint(),
  last: boolean(),
  payload: bytes({ minLength: 0, maxLength: MAX_SUPERBLOCK_PAYLOAD }),
  crc: uint32(),
};

export const Superblock = defineMessage({
  type: 'Superblock',
  version: 2,
  topic: 'sov.superblocks',
  fields: superblockFields,
  rule: 'crc is the CRC-32C (Castagnoli) of the payload bytes',
  check: (m) => {
    const actual = crc32c(Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength)) >>> 0;
    return actual === m.crc ? undefined : { field: 'crc', message: `expected CRC-32C of payload 0x${actual.toString(16)}, got 0x${m.crc.toString(16)}` };
  },
});

/**
 * The same message without the payload check, for the producer only: the writer computed the CRC
 * itself (once, as it cut the superblock), so encoding does not compute it again. Not in the
 * registry: every decode still checks it, and the multiplexer dead-letters a mismatch.
 */
const SuperblockOfTrustedCrc = defineMessage({ type: 'Superblock', version: 2, topic: 'sov.superblocks', fields: superblockFields });

/** Encodes a superblock whose `crc` the caller computed over its payload (bytes identical to Superblock.encode). */
export function encodeSuperblock(m: Omit<MessageOf<typeof Superblock>, 'type'>): KafkaRecord {
  return SuperblockOfTrustedCrc.encode({ type: 'Superblock', ...m });
}

/** As encodeSuperblock, the value in parts: [envelope head, payload] (the payload not copied). */
export function encodeSuperblockParts(m: Omit<MessageOf<typeof Superblock>, 'type'>): KafkaRecordParts {
  return SuperblockOfTrustedCrc.encodeParts({ type: 'Superblock', ...m });
}

export const SOV_SUPERBLOCK_MESSAGES = [Superblock] as const;


export const StreamDefine = defineMessage({
  type: 'StreamDefine',
  version: 2,
  topic: 'sov.commands',
  fields: {
    stream: streamName(),
    minDevices: optional(int({ min: 1, max: 256 })),
    maxDevices: optional(int({ min: 1, max: 256 })),
    objectiveBytesPerSec: optional(bytesPerSec()),
    volumeCapacity: optional(int({ min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER })),
    deviceRateBytesPerSec: optional(bytesPerSec()),
    /** superblocks per run (K) */
    runSuperblocks: optional(int({ min: 1, max: MAX_RUN_SUPERBLOCKS })),
    checkpointEveryBytes: optional(int({ min: 1 << 16, max: Number.MAX_SAFE_INTEGER })),
    /** defaults for the stream's client files */
    compression: optional(enumOf(COMPRESSIONS)),
    encryption: optional(enumOf(ENCRYPTIONS)),
    correlationId: optional(id()),
  },
  rule: 'minDevices ≤ maxDevices when both are given',
  check: (m) => devicesInOrder(m),
  upcasters: { 1: (f) => mbpsToBytes(mbpsToBytes(f, 'objectiveMBps', 'objectiveBytesPerSec'), 'deviceRateMBps', 'deviceRateBytesPerSec') },
});

function devicesInOrder(m: { minDevices?: number; maxDevices?: number }) {
  return m.minDevices !== undefined && m.maxDevices !== undefined && m.minDevices > m.maxDevices
    ? { field: 'maxDevices', message: `expected ≥ minDevices (${m.minDevices}), got ${m.maxDevices}` }
    : undefined;
}

export const DeviceAdd = defineMessage({
  type: 'DeviceAdd',
  version: 2,
  topic: 'sov.commands',
  fields: { stream: streamName(), device: device(), rateBytesPerSec: optional(bytesPerSec()), correlationId: optional(id()) },
  upcasters: { 1: (f) => mbpsToBytes(f, 'rateMBps', 'rateBytesPerSec') },
});

export const DeviceRemove = defineMessage({
  type: 'DeviceRemove',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), device: device(), correlationId: optional(id()) },
});

/** What the catalog (and the volume's open record) keeps about a client file. */
const clientFileFacts = {
  dbid: optional(dbid()),
  dsid: optional(DsidSchema),
  kind: optional(enumOf(CLIENT_FILE_KINDS)),
  expiresAt: optional(timestamp()),
  description: optional(text()),
};

export const ClientFileOpen = defineMessage({
  type: 'ClientFileOpen',
  version: 2,
  topic: 'sov.commands',
  fields: {
    stream: streamName(),
    clientFile: name(),
    incarnation: incarnation(),
    ...clientFileFacts,
    /** the stream's default when absent */
    compression: optional(enumOf(COMPRESSIONS)),
    encryption: optional(enumOf(ENCRYPTIONS)),
    correlationId: optional(id()),
  },
});

export const ClientFileClose = defineMessage({
  type: 'ClientFileClose',
  version: 2,
  topic: 'sov.commands',
  fields: { stream: streamName(), clientFile: name(), incarnation: incarnation(), superblocks: uint(), bytes: uint(), sha256: sha256(), correlationId: optional(id()) },
});

/** The writer gives up a client file: its superblocks must never be restored as a file. */
export const ClientFileAbort = defineMessage({
  type: 'ClientFileAbort',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), clientFile: name(), incarnation: incarnation(), reason: text(), correlationId: optional(id()) },
});

/**
 * SOVADM expiration of one client file (sent by the catalog, which checks the save chain): the
 * multiplexer's decider expires a closed or aborted file (ClientFileExpired) and returns to scratch
 * every finished volume left holding expired files only (VolumeScratched). The multiplexer owns
 * the volumes, so the decision is its own; an open file is refused (NOT_EXPIRABLE).
 */
export const ClientFileExpire = defineMessage({
  type: 'ClientFileExpire',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), clientFile: name(), incarnation: incarnation(), asOf: timestamp(), correlationId: optional(id()) },
});

/**
 * Verification of one volume (`dsf volumes verify`): the multiplexer serving the volume's stream
 * reads it through a read-only device of its own (a mounted volume up to its synced end, so
 * writers are not held), checks every record's CRCs, the trailer (or last checkpoint) and the
 * placements of sov.events against the records, and answers with VolumeVerified.
 */
export const VolumeVerify = defineMessage({
  type: 'VolumeVerify',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), volser: volser(), correlationId: optional(id()) },
});

/**
 * Verification of one client file (`dsf client-files verify`): reassembled from its runs, every
 * superblock checked and decoded, the bytes and SHA-256 compared with the close record; answered
 * with ClientFileVerified. Without `incarnation`, the latest incarnation of the name.
 */
export const ClientFileVerify = defineMessage({
  type: 'ClientFileVerify',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), clientFile: name(), incarnation: optional(incarnation()), correlationId: optional(id()) },
});

/**
 * Reclamation of a stream's mostly-expired volumes (`dsf volumes reclaim --threshold P`, TSM's
 * reclamation): the multiplexer serving the stream copies the live runs (closed, unexpired client
 * files) of every finished volume whose live runs take less than `thresholdPercent` % of it onto the
 * stream's current volume, publishes RunMoved per run once the copy is durable, then
 * VolumeScratched for the emptied volume; the outcome is VolumesReclaimed. `dryRun`: only the
 * assessment, nothing moved. Re-sent (or replayed after a crash) it moves only what is still on the
 * old volumes.
 */
export const VolumeReclaim = defineMessage({
  type: 'VolumeReclaim',
  version: 1,
  topic: 'sov.commands',
  fields: { stream: streamName(), thresholdPercent: int({ min: 1, max: 100 }), dryRun: optional(boolean()), correlationId: optional(id()) },
});

export const SOV_COMMAND_MESSAGES = [StreamDefine, DeviceAdd, DeviceRemove, ClientFileOpen, ClientFileClose, ClientFileAbort, ClientFileExpire, VolumeVerify, ClientFileVerify, VolumeReclaim] as const;

export const StreamDefined = defineMessage({
  type: 'StreamDefined',
  version: 2,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    minDevices: int({ min: 1, max: 256 }),
    maxDevices: int({ min: 1, max: 256 }),
    objectiveBytesPerSec: optional(bytesPerSec()),
    volumeCapacity: int({ min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER }),
    deviceRateBytesPerSec: optional(bytesPerSec()),
    runSuperblocks: int({ min: 1, max: MAX_RUN_SUPERBLOCKS }),
    checkpointEveryBytes: int({ min: 1 << 16, max: Number.MAX_SAFE_INTEGER }),
    compression: enumOf(COMPRESSIONS),
    encryption: enumOf(ENCRYPTIONS),
    occurredAt: occurredAt(),
  },
  rule: 'minDevices ≤ maxDevices when both are given',
  check: (m) => devicesInOrder(m),
});

export const DeviceAdded = defineMessage({
  type: 'DeviceAdded',
  version: 2,
  topic: 'sov.events',
  fields: { stream: streamName(), device: device(), rateBytesPerSec: optional(bytesPerSec()), occurredAt: occurredAt() },
  upcasters: { 1: (f) => mbpsToBytes(f, 'rateMBps', 'rateBytesPerSec') },
});

export const DeviceRemoved = defineMessage({
  type: 'DeviceRemoved',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), device: device(), reason: optional(text()), occurredAt: occurredAt() },
});

/**
 * Which multiplexer instance serves a stream (writes its volumes). Published when an instance
 * takes the stream's partition and, before it, the previous server released it (or is gone from
 * the group): a stream's volumes never have two writers. Auditors see every handover.
 */
export const StreamServed = defineMessage({
  type: 'StreamServed',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), instance: id(), occurredAt: occurredAt() },
});

/** The instance stopped serving the stream: its written runs are synced and their RunPlaced published before this. */
export const StreamReleased = defineMessage({
  type: 'StreamReleased',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), instance: id(), occurredAt: occurredAt() },
});

/** A device failed (write error, drive fault): its runs not yet durable must be written again elsewhere. */
export const DeviceFailed = defineMessage({
  type: 'DeviceFailed',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), device: device(), volser: optional(volser()), reason: text(), occurredAt: occurredAt() },
});

/** occurredAt is the open time (written in the volume's open record). */
export const ClientFileOpened = defineMessage({
  type: 'ClientFileOpened',
  version: 2,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    clientFile: name(),
    incarnation: incarnation(),
    ...clientFileFacts,
    compression: enumOf(COMPRESSIONS),
    compressionLevel: optional(int({ min: 1, max: 22 })),
    encryption: enumOf(ENCRYPTIONS),
    /** fingerprint of the operator key that wrapped the data key */
    keyId: optional(keyId()),
    wrappedKey: optional(wrappedKey()),
    occurredAt: occurredAt(),
  },
});

/** occurredAt is the close time (written in the volume's close record). */
export const ClientFileClosed = defineMessage({
  type: 'ClientFileClosed',
  version: 2,
  topic: 'sov.events',
  fields: { stream: streamName(), clientFile: name(), incarnation: incarnation(), superblocks: uint(), bytes: uint(), sha256: sha256(), occurredAt: occurredAt() },
});

export const ClientFileAborted = defineMessage({
  type: 'ClientFileAborted',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), clientFile: name(), incarnation: incarnation(), reason: text(), occurredAt: occurredAt() },
});

/** Placement of a run (replaces SuperblockPlaced, which had one event per superblock and no `last`). */
export const RunPlaced = defineMessage({
  type: 'RunPlaced',
  version: 1,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    clientFile: name(),
    incarnation: incarnation(),
    volser: volser(),
    firstSeq: uint(),
    superblocks: int({ min: 1, max: MAX_RUN_SUPERBLOCKS }),
    /** the run ends with the client file's last superblock */
    last: boolean(),
    position: uint(),
    length: posint(),
    bytes: uint(),
    crcs: array(uint32(), { minLength: 1, maxLength: MAX_RUN_SUPERBLOCKS }),
    occurredAt: occurredAt(),
  },
  rule: 'crcs has exactly `superblocks` items (one CRC per superblock)',
  check: (m) => (m.crcs.length === m.superblocks ? undefined : { field: 'crcs', message: `expected ${m.superblocks} CRCs (one per superblock), got ${m.crcs.length}` }),
});

export const VolumeMounted = defineMessage({
  type: 'VolumeMounted',
  version: 2,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    volser: volser(),
    device: device(),
    streamFile: streamFile(),
    volumeSeq: posint(),
    previousVolser: optional(volser()),
    /** true when the volume was labelled now (scratch → in use) */
    labelled: boolean(),
    occurredAt: occurredAt(),
  },
});

/** The volume is finished (trailer written): full, or closed for append; `nextVolser` continues the stream file. */
export const VolumeFull = defineMessage({
  type: 'VolumeFull',
  version: 2,
  topic: 'sov.events',
  fields: { stream: streamName(), volser: volser(), bytes: uint(), nextVolser: optional(volser()), occurredAt: occurredAt() },
});

/** A volume found damaged (bad record, unreadable label, torn tail): `position` as the device reports it. */
export const VolumeSuspect = defineMessage({
  type: 'VolumeSuspect',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), volser: volser(), device: optional(device()), position: optional(uint()), reason: text(), occurredAt: occurredAt() },
});

export const VolumeScratched = defineMessage({
  type: 'VolumeScratched',
  version: 1,
  topic: 'sov.events',
  fields: { stream: streamName(), volser: volser(), occurredAt: occurredAt() },
});

export const ClientFileExpired = defineMessage({
  type: 'ClientFileExpired',
  version: 2,
  topic: 'sov.events',
  fields: { stream: streamName(), clientFile: name(), incarnation: incarnation(), occurredAt: occurredAt() },
});

const VERIFY_PROBLEM_KINDS = ['damage', 'index', 'catalog', 'content', 'missing'] as const;
/** One problem verification found: where (position on `volser`, when known) and what. */
const VerifyProblem = object({
  volser: optional(volser()),
  position: optional(uint()),
  /** damage: a record fails its CRC or is cut; index: trailer/checkpoint vs records; catalog: placements vs records; content: the client file's bytes or SHA-256; missing: not readable at all */
  kind: enumOf(VERIFY_PROBLEM_KINDS),
  reason: text(),
});
const verifyProblems = () => array(VerifyProblem, { maxLength: 1000 });
/** operator: asked with VolumeVerify / ClientFileVerify; scrub: the multiplexer's scheduled scrub */
const VERIFY_TRIGGERS = ['operator', 'scrub'] as const;

/** The outcome of a volume's verification (problems beyond the first 1000 are counted in `problemCount`). */
export const VolumeVerified = defineMessage({
  type: 'VolumeVerified',
  version: 1,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    volser: volser(),
    ok: boolean(),
    problems: verifyProblems(),
    problemCount: uint(),
    /** the volume's status when read: a mounted one is verified up to its synced end */
    status: enumOf(['mounted', 'full', 'suspect'] as const),
    /** the position it was read up to */
    end: uint(),
    runs: uint(),
    superblocks: uint(),
    trigger: enumOf(VERIFY_TRIGGERS),
    correlationId: optional(id()),
    occurredAt: occurredAt(),
  },
  rule: 'ok exactly when there is no problem',
  check: (m) => (m.ok === (m.problemCount === 0) && m.problems.length <= m.problemCount ? undefined : { field: 'ok', message: `ok ${m.ok} with ${m.problemCount} problems` }),
});

/** The outcome of a client file's verification: reassembled and compared with its close record. */
export const ClientFileVerified = defineMessage({
  type: 'ClientFileVerified',
  version: 1,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    clientFile: name(),
    incarnation: optional(incarnation()),
    ok: boolean(),
    problems: verifyProblems(),
    /** superblocks and plaintext bytes read back, and their SHA-256 (when read to the end) */
    superblocks: uint(),
    bytes: uint(),
    sha256: optional(sha256()),
    volsers: array(volser(), { maxLength: 100_000 }),
    trigger: enumOf(VERIFY_TRIGGERS),
    correlationId: optional(id()),
    occurredAt: occurredAt(),
  },
  rule: 'ok exactly when there is no problem',
  check: (m) => (m.ok === (m.problems.length === 0) ? undefined : { field: 'ok', message: `ok ${m.ok} with ${m.problems.length} problems` }),
});

/**
 * A run copied by reclamation from (fromVolser, fromPosition) to (volser, position), published once
 * the copy is durable. The superblocks are the same records with a new header (the new volume's tag
 * and position; encrypted bodies are copied as they are, their authenticated data holds neither).
 * A run split over two volumes (the first filled) gives one RunMoved per piece; the old run is
 * forgotten with the piece that ends where it ended.
 */
export const RunMoved = defineMessage({
  type: 'RunMoved',
  version: 1,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    clientFile: name(),
    incarnation: incarnation(),
    fromVolser: volser(),
    fromPosition: uint(),
    volser: volser(),
    firstSeq: uint(),
    superblocks: int({ min: 1, max: MAX_RUN_SUPERBLOCKS }),
    last: boolean(),
    position: uint(),
    length: posint(),
    bytes: uint(),
    crcs: array(uint32(), { minLength: 1, maxLength: MAX_RUN_SUPERBLOCKS }),
    correlationId: optional(id()),
    occurredAt: occurredAt(),
  },
  rule: 'crcs has exactly `superblocks` items (one CRC per superblock)',
  check: (m) => (m.crcs.length === m.superblocks ? undefined : { field: 'crcs', message: `expected ${m.superblocks} CRCs (one per superblock), got ${m.crcs.length}` }),
});

const ReclaimedVolume = object({
  volser: volser(),
  /** position units the volume held, and those of its live runs */
  size: uint(),
  liveBytes: uint(),
  /** live runs found on it, and moved off it by this reclamation */
  runs: uint(),
  moved: uint(),
  /** scratched: emptied and returned to scratch; candidate: a dry run's; failed: see reason (left as it was, or partly moved) */
  outcome: enumOf(['scratched', 'candidate', 'failed'] as const),
  reason: optional(text()),
});

/** The outcome of a VolumeReclaim: the candidates and what became of each, the volumes left alone and why. */
export const VolumesReclaimed = defineMessage({
  type: 'VolumesReclaimed',
  version: 1,
  topic: 'sov.events',
  fields: {
    stream: streamName(),
    thresholdPercent: int({ min: 1, max: 100 }),
    dryRun: boolean(),
    ok: boolean(),
    volumes: array(ReclaimedVolume, { maxLength: 100_000 }),
    skipped: array(object({ volser: volser(), reason: text() }), { maxLength: 100_000 }),
    runsMoved: uint(),
    correlationId: optional(id()),
    occurredAt: occurredAt(),
  },
  rule: 'ok exactly when no volume failed',
  check: (m) => (m.ok === m.volumes.every((v) => v.outcome !== 'failed') ? undefined : { field: 'ok', message: `ok ${m.ok} with ${m.volumes.filter((v) => v.outcome === 'failed').length} failed volumes` }),
});

export const SOV_EVENT_MESSAGES = [
  StreamDefined,
  DeviceAdded,
  DeviceRemoved,
  DeviceFailed,
  StreamServed,
  StreamReleased,
  ClientFileOpened,
  ClientFileClosed,
  ClientFileAborted,
  RunPlaced,
  VolumeMounted,
  VolumeFull,
  VolumeSuspect,
  VolumeScratched,
  ClientFileExpired,
  VolumeVerified,
  ClientFileVerified,
  RunMoved,
  VolumesReclaimed,
] as const;
