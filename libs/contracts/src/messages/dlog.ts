/**
 * dsf.dlog: the DLOG's own log. Key: dbid. Each message is an event of the DLOG decider
 * (@deltaflow/dlog, dlog.ts) with `occurredAt`: the change logger publishes exactly what the
 * decider decided, and the DLOG of a database is the fold of these messages.
 *
 * - RABN sets travel as inclusive ranges per area (`ranges`), so a DLOG of a million
 *   contiguous blocks is one small record, not a million numbers.
 * - DlogRecorded covers the changes up to `lsn` (one record per upstream batch); `ranges` are
 *   the blocks new to the DLOG, `marks` utility marks (seed: FCB marks).
 * - A save captures the DLOG at its start sync (`syncLsn`): DlogCaptured carries every block
 *   the save must read (`ranges`), so the save writer reads exactly those without folding the
 *   DLOG itself. A capture is named by the save's correlation id.
 *
 * Version 2 (every message): `captureId` is gone (it always equalled the save's correlationId),
 * utility marks carry `extents` of file parts instead of area ranges; version 1 records are
 * upcast when read.
 */
import { blockRanges, dbid, id, lsn, text, timestamp, UtilityMark } from '../common';
import { defineMessage, type Upcaster } from '../define';
import { array, bytes, optional, posint, uint } from '../schema';

const marks = () => array(UtilityMark, { maxLength: 65535 });

/** v1 -> v2: the capture id was the correlation id. */
const captureIdToCorrelationId: Upcaster = ({ captureId, ...rest }) => ({ correlationId: captureId, ...rest });
/** v1 -> v2: marks {file, parts, ranges by area} -> {file, parts, extents by part} (an ASSO range was always an AC extent). */
function marksV1toV2(v1: unknown): unknown {
  if (!Array.isArray(v1)) return v1;
  return v1.map((m: { file: unknown; parts: unknown; ranges?: Array<{ area: string; from: number; to: number }> }) => ({
    file: m.file,
    parts: m.parts,
    extents: (m.ranges ?? []).map((r) => ({ part: r.area === 'DATA' ? 'DATA' : 'AC', from: r.from, to: r.to })),
  }));
}

export const DlogRecorded = defineMessage({
  type: 'DlogRecorded',
  version: 2,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), lsn: lsn(), ranges: blockRanges(), marks: marks(), occurredAt: timestamp() },
  upcasters: { 1: (f) => ({ ...f, marks: marksV1toV2(f.marks) }) },
});

/** An ET sync point (or the nucleus stopping) the DLOG was cut at. */
export const DlogSyncRecorded = defineMessage({
  type: 'DlogSyncRecorded',
  version: 1,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), lsn: lsn(), syncId: id(), occurredAt: timestamp() },
});

/** A save's capture waits for the change stream to reach its start sync (survives a restart this way). */
export const DlogCaptureAwaited = defineMessage({
  type: 'DlogCaptureAwaited',
  version: 2,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), correlationId: id(), syncLsn: lsn(), occurredAt: timestamp() },
  upcasters: { 1: captureIdToCorrelationId },
});

/** A waiting capture is withdrawn: its save ended before the stream reached its start sync; nothing was captured. */
export const DlogCaptureWithdrawn = defineMessage({
  type: 'DlogCaptureWithdrawn',
  version: 2,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), correlationId: id(), occurredAt: timestamp() },
  upcasters: { 1: captureIdToCorrelationId },
});

export const DlogCaptured = defineMessage({
  type: 'DlogCaptured',
  version: 2,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), correlationId: id(), syncLsn: lsn(), ranges: blockRanges(), marks: marks(), occurredAt: timestamp() },
  upcasters: { 1: ({ captureId: _captureId, ...f }) => ({ ...f, marks: marksV1toV2(f.marks) }) },
});

/** The save completed: its captured set is gone. */
export const DlogDropped = defineMessage({
  type: 'DlogDropped',
  version: 2,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), correlationId: id(), occurredAt: timestamp() },
  upcasters: { 1: ({ captureId: _captureId, ...f }) => f },
});

/** The save failed: its captured set is back in the DLOG. */
export const DlogReturned = defineMessage({
  type: 'DlogReturned',
  version: 2,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), correlationId: id(), reason: text(), occurredAt: timestamp() },
  upcasters: { 1: ({ captureId: _captureId, ...f }) => f },
});

/**
 * Not a decider event: the whole DLOG state of a database (`dlogStateToJSON`, UTF-8 JSON) at this
 * point of the log. Folding it replaces the state; the change logger publishes one for each
 * database of a partition and then truncates dsf.dlog below the first of them, so a rebuild from
 * the log start begins with the snapshots (the DLOG retention, docs/ARCHITECTURE.md).
 *
 * A state of any size: `state` is then part `part` (0-based) of `parts` of the JSON's bytes, and
 * every part carries the same `snapshotId`; the parts follow one another on the partition and a
 * reader uses the snapshot only once it has all of them (@deltaflow/dlog snapshot-parts.ts). A
 * record without `snapshotId` is a whole state (the format before parts, still read). How the
 * three fields go together (all or none, part < parts) is checked by the reader, which refuses a
 * mismatch with CORRUPT_DATA.
 */
export const DlogSnapshotted = defineMessage({
  type: 'DlogSnapshotted',
  version: 1,
  topic: 'dsf.dlog',
  fields: {
    dbid: dbid(),
    lastLsn: optional(lsn()),
    snapshotId: optional(id()),
    part: optional(uint(1_000_000)),
    parts: optional(posint(1_000_000)),
    state: bytes({ minLength: 1, maxLength: 900 * 1024 }),
    occurredAt: timestamp(),
  },
});

export const DLOG_MESSAGES = [DlogRecorded, DlogSyncRecorded, DlogCaptureAwaited, DlogCaptureWithdrawn, DlogCaptured, DlogDropped, DlogReturned, DlogSnapshotted] as const;
