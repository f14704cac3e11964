/**
 * dsf.dlog: what the change logger recorded in, captured from, and dropped from or
 * returned to the DLOG of a database. Key: dbid. The DLOG state per dbid is a fold over
 * these events alone.
 *
 * Choices where DESIGN is vague:
 * - RABN sets travel as inclusive ranges per area (`ranges`), so a DLOG of a million
 *   contiguous blocks is one small record, not a million numbers.
 * - DlogRecorded covers the changes up to `lsn` (the change logger may batch several
 *   BlockChanged / UtilityChanged into one record); `marks` are utility marks (seed: FCB marks).
 * - A save captures the DLOG at its start sync (`syncLsn`): DlogCaptured carries the whole
 *   captured set under a `captureId`, so the save writer knows what to read without folding
 *   the DLOG itself. DlogDropped (save completed) and DlogReturned (save failed: the set is
 *   merged back) refer to that capture.
 */
import { blockRanges, dbid, id, lsn, text, timestamp, UtilityMark } from '../common';
import { defineMessage } from '../define';
import { array } from '../schema';

const marks = () => array(UtilityMark, { maxLength: 65535 });

export const DlogRecorded = defineMessage({
  type: 'DlogRecorded',
  version: 1,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), lsn: lsn(), ranges: blockRanges(), marks: marks(), occurredAt: timestamp() },
});

export const DlogCaptured = defineMessage({
  type: 'DlogCaptured',
  version: 1,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), captureId: id(), correlationId: id(), syncLsn: lsn(), ranges: blockRanges(), marks: marks(), occurredAt: timestamp() },
});

export const DlogDropped = defineMessage({
  type: 'DlogDropped',
  version: 1,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), captureId: id(), correlationId: id(), occurredAt: timestamp() },
});

export const DlogReturned = defineMessage({
  type: 'DlogReturned',
  version: 1,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), captureId: id(), correlationId: id(), reason: text(), occurredAt: timestamp() },
});

export const DLOG_MESSAGES = [DlogRecorded, DlogCaptured, DlogDropped, DlogReturned] as const;
