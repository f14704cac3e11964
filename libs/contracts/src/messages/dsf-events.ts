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
import { dbid, DsidSchema, errorCode, id, Location, lsn, name, SAVE_KINDS, text, timestamp } from '../common';
import { defineMessage } from '../define';
import { modeToKind } from './upcasts';
import { array, boolean, decimal, enumOf, int, optional, string, uint } from '../schema';
import { ALL_TOPICS } from '../topics';

const occurredAt = timestamp;
const digest = () => string({ minLength: 8, maxLength: 128, pattern: /^[0-9a-f]+$/, patternName: 'lower-case hex digest' });
const inputs = () => array(name(), { minLength: 1, maxLength: 10 });

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

export const MergeCompleted = defineMessage({
  type: 'MergeCompleted',
  version: 1,
  topic: 'dsf.events',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    dsid: DsidSchema,
    kind: enumOf(SAVE_KINDS),
    inputs: inputs(),
    location: Location,
    blocks: uint(),
    digest: digest(),
    occurredAt: occurredAt(),
  },
});

export const MergeRejected = defineMessage({
  type: 'MergeRejected',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), code: errorCode(), reason: text(), input: optional(name()), occurredAt: occurredAt() },
});

export const RestoreStarted = defineMessage({
  type: 'RestoreStarted',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), target: name(), inputs: inputs(), shadow: boolean(), occurredAt: occurredAt() },
});

export const RestoreProgress = defineMessage({
  type: 'RestoreProgress',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), target: name(), blocksWritten: uint(), blocksTotal: optional(uint()), occurredAt: occurredAt() },
});

export const RestoreCompleted = defineMessage({
  type: 'RestoreCompleted',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), target: name(), dsid: DsidSchema, blocks: uint(), occurredAt: occurredAt() },
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

export const CommandRejected = defineMessage({
  type: 'CommandRejected',
  version: 1,
  topic: 'dsf.events',
  fields: {
    correlationId: id(),
    dbid: dbid(),
    commandType: string({ minLength: 1, maxLength: 64 }),
    code: errorCode(),
    reason: text(),
    field: optional(string({ minLength: 1, maxLength: 256 })),
    occurredAt: occurredAt(),
  },
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
  MergeCompleted,
  MergeRejected,
  RestoreStarted,
  RestoreProgress,
  RestoreCompleted,
  RestoreInterrupted,
  CommandRejected,
  UpstreamRejected,
] as const;
