/**
 * dsf.events: what the Delta Save services did. Key: dbid. Each event carries the
 * correlationId of the command that caused it (where there is one) and `occurredAt`
 * (ms since the epoch, passed in by the producer).
 *
 * Choices where DESIGN is vague:
 * - SaveStarted carries the DSID assigned to the save and, for online saves, the start
 *   sync LSN; SaveCompleted the end sync LSN (online) and the written location, block
 *   count, bytes and a digest of the data set (hex), so the catalog needs nothing else.
 * - Dsim* events follow one online save's DSIM (identified by the save's DSID).
 * - MergeRejected / SaveFailed / CommandRejected carry an error code (`MERGE_INPUT_INVALID`,
 *   `VALIDATION`, ...) and, where one input or field is to blame, its name.
 * - UpstreamRejected: the change logger's record that an upstream message was refused and
 *   sent to the DLQ; `dbid` is absent when the message was too broken to tell (the record
 *   then has no key). RestoreInterrupted tells where a restart resumes (`resumeFrom`).
 */
import { blockRanges, dbid, DsidSchema, errorCode, id, Location, lsn, name, SAVE_KINDS, text, timestamp } from '../common';
import { defineMessage } from '../define';
import { modeToKind } from './upcasts';
import { array, boolean, decimal, enumOf, int, optional, string, uint } from '../schema';
import { ALL_TOPICS } from '../topics';

const occurredAt = timestamp;
const digest = () => string({ minLength: 8, maxLength: 128, pattern: /^[0-9a-f]+$/, patternName: 'lower-case hex digest' });

/** Version 2: `kind` (was `mode`). */
export const SaveStarted = defineMessage({
  type: 'SaveStarted',
  version: 2,
  topic: 'dsf.events',
  upcasters: { 1: modeToKind },
  fields: {
    correlationId: id(),
    dbid: dbid(),
    dsid: DsidSchema,
    kind: enumOf(SAVE_KINDS),
    online: boolean(),
    startLsn: optional(lsn()),
    occurredAt: occurredAt(),
  },
});

export const SaveProgress = defineMessage({
  type: 'SaveProgress',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), blocksWritten: uint(), blocksTotal: optional(uint()), occurredAt: occurredAt() },
});

/** Version 2: `kind` (was `mode`). */
export const SaveCompleted = defineMessage({
  type: 'SaveCompleted',
  version: 2,
  topic: 'dsf.events',
  upcasters: { 1: modeToKind },
  fields: {
    correlationId: id(),
    dbid: dbid(),
    dsid: DsidSchema,
    kind: enumOf(SAVE_KINDS),
    online: boolean(),
    startLsn: optional(lsn()),
    endLsn: optional(lsn()),
    location: Location,
    blocks: uint(),
    bytes: uint(),
    digest: digest(),
    occurredAt: occurredAt(),
  },
});

export const SaveFailed = defineMessage({
  type: 'SaveFailed',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), dsid: optional(DsidSchema), code: errorCode(), reason: text(), occurredAt: occurredAt() },
});

export const DsimAcquired = defineMessage({
  type: 'DsimAcquired',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), dsid: DsidSchema, startLsn: lsn(), occurredAt: occurredAt() },
});

export const DsimCompleted = defineMessage({
  type: 'DsimCompleted',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), dsid: DsidSchema, startLsn: lsn(), endLsn: lsn(), blocks: uint(), occurredAt: occurredAt() },
});

export const DsimUnloaded = defineMessage({
  type: 'DsimUnloaded',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), dsid: DsidSchema, location: Location, blocks: uint(), digest: digest(), occurredAt: occurredAt() },
});

export const DsimReset = defineMessage({
  type: 'DsimReset',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), dsid: optional(DsidSchema), occurredAt: occurredAt() },
});

/** Refusal of an online save's acquisition of the original DSIM (seed: the DSIM must be free); the save then fails with `code`. */
export const DsimRejected = defineMessage({
  type: 'DsimRejected',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), code: errorCode(), reason: text(), occurredAt: occurredAt() },
});

/** A copy of the original DSIM as an `original-dsim` data set (the DSIM stays in use). */
export const DsimSnapshotted = defineMessage({
  type: 'DsimSnapshotted',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), dsid: DsidSchema, location: Location, blocks: uint(), digest: digest(), occurredAt: occurredAt() },
});

/** The original DSIM was merged with its online save: it is free (seed: "Following the merge operation, the DSIM data set is reset"). */
export const DsimReleased = defineMessage({
  type: 'DsimReleased',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), dsid: DsidSchema, occurredAt: occurredAt() },
});

const inputNames = () => array(string({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 4096 });

/** The merge engine accepted a merge: every input checked, nothing written yet. */
export const MergeStarted = defineMessage({
  type: 'MergeStarted',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), dsid: DsidSchema, kind: enumOf(SAVE_KINDS), inputs: inputNames(), output: optional(Location), occurredAt: occurredAt() },
});

/** Progress of a merge, restore, shadow apply or file unload (every few MiB). */
export const OperationProgress = defineMessage({
  type: 'OperationProgress',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), bytesDone: uint(), bytesTotal: optional(uint()), occurredAt: occurredAt() },
});

/** v2: `bytes` of the output; `releasedDsid` when the merge consumed the original DSIM (which is then free). */
export const MergeCompleted = defineMessage({
  type: 'MergeCompleted',
  version: 2,
  topic: 'dsf.events',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    dsid: DsidSchema,
    kind: enumOf(SAVE_KINDS),
    inputs: inputNames(),
    location: Location,
    blocks: uint(),
    bytes: optional(uint()),
    digest: digest(),
    releasedDsid: optional(DsidSchema),
    occurredAt: occurredAt(),
  },
  upcasters: { 1: (f) => f },
});

/** A restore delta (or shadow init / apply) began; `resume` when it continues an interrupted one. */
export const RestoreStarted = defineMessage({
  type: 'RestoreStarted',
  version: 2,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), target: name(), inputs: inputNames(), shadow: boolean(), resume: optional(boolean()), occurredAt: occurredAt() },
  upcasters: { 1: (f) => f },
});

/**
 * A restore completed. `digest` is the restored database's digest (as the reference nucleus computes
 * it at a sync); `lineage` the lineage the database continues on: a restore of the database itself
 * (`intoDatabase`) starts a new one, and `ranges` are the blocks it wrote, which the next delta holds.
 */
export const RestoreCompleted = defineMessage({
  type: 'RestoreCompleted',
  version: 2,
  topic: 'dsf.events',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    target: name(),
    dsid: DsidSchema,
    shadow: optional(boolean()),
    blocks: uint(),
    digest: optional(digest()),
    lineage: optional(id()),
    intoDatabase: optional(boolean()),
    ranges: optional(blockRanges()),
    occurredAt: occurredAt(),
  },
  upcasters: { 1: (f) => f },
});

export const RestoreInterrupted = defineMessage({
  type: 'RestoreInterrupted',
  version: 1,
  topic: 'dsf.events',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    target: name(),
    code: errorCode(),
    reason: text(),
    /** index of the input to resume with and the number of its blocks already written */
    resumeFrom: optional(uint()),
    occurredAt: occurredAt(),
  },
});

/** REGENERATE: a shadow brought forward by the PLOG images in (fromLsn, toLsn]. */
export const ShadowRegenerated = defineMessage({
  type: 'ShadowRegenerated',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), shadow: name(), fromLsn: lsn(), toLsn: lsn(), blocks: uint(), digest: digest(), occurredAt: occurredAt() },
});

/** ADAULD: one file unloaded to a plain file of its blocks. */
export const FileUnloaded = defineMessage({
  type: 'FileUnloaded',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), file: int({ min: 1, max: 65535 }), dsid: DsidSchema, location: Location, blocks: uint(), bytes: uint(), occurredAt: occurredAt() },
});

/** A command that started and then failed (an I/O error, an input that turned out corrupt): nothing was left under its output name. */
export const CommandFailed = defineMessage({
  type: 'CommandFailed',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), commandType: string({ minLength: 1, maxLength: 64 }), code: errorCode(), reason: text(), occurredAt: occurredAt() },
});

/** A command refused before anything was written; `rule` names the Delta Save rule (e.g. CONTINUOUS_SEQUENCE), `input` the input to blame. */
export const CommandRejected = defineMessage({
  type: 'CommandRejected',
  version: 2,
  topic: 'dsf.events',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    commandType: string({ minLength: 1, maxLength: 64 }),
    code: errorCode(),
    reason: text(),
    field: optional(string({ minLength: 1, maxLength: 256 })),
    rule: optional(errorCode()),
    input: optional(string({ minLength: 1, maxLength: 200 })),
    occurredAt: occurredAt(),
  },
  upcasters: { 1: (f) => f },
});

export const UpstreamRejected = defineMessage({
  type: 'UpstreamRejected',
  version: 1,
  topic: 'dsf.events',
  fields: {
    dbid: optional(dbid()),
    sourceTopic: enumOf(ALL_TOPICS as unknown as [string, ...string[]]),
    partition: int({ min: 0, max: 2 ** 31 - 1 }),
    offset: decimal(),
    code: errorCode(),
    reason: text(),
    field: optional(string({ minLength: 1, maxLength: 256 })),
    occurredAt: occurredAt(),
  },
});

export const DSF_EVENT_MESSAGES = [
  SaveStarted,
  SaveProgress,
  SaveCompleted,
  SaveFailed,
  DsimAcquired,
  DsimCompleted,
  DsimUnloaded,
  DsimReset,
  DsimRejected,
  DsimSnapshotted,
  DsimReleased,
  MergeStarted,
  OperationProgress,
  MergeCompleted,
  RestoreStarted,
  RestoreCompleted,
  RestoreInterrupted,
  ShadowRegenerated,
  FileUnloaded,
  CommandRejected,
  CommandFailed,
  UpstreamRejected,
] as const;
