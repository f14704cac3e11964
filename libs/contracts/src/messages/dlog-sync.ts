/**
 * dsf.dlog: the change logger's record that it saw an ET sync point in a database's change
 * stream (added by the change-logger helper). The DLOG cuts its live set at these points,
 * so a save capturing at its start sync takes exactly the blocks changed at or below it;
 * without them in the log, a DLOG rebuilt from dsf.dlog could only capture conservatively.
 */
import { dbid, id, lsn, timestamp } from '../common';
import { defineMessage } from '../define';

export const DlogSyncRecorded = defineMessage({
  type: 'DlogSyncRecorded',
  version: 1,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), lsn: lsn(), syncId: id(), occurredAt: timestamp() },
});

/**
 * dsf.dlog: a save's DLOG capture is waiting for the change stream to reach the save's start
 * sync (SaveStarted.startLsn beyond what the change logger has seen). Recorded so that a
 * change logger restarted before the stream gets there still emits the capture: the
 * waiting captures are part of the DLOG state rebuilt from dsf.dlog. Ended by the matching
 * DlogCaptured, DlogDropped or DlogReturned.
 */
export const DlogCaptureAwaited = defineMessage({
  type: 'DlogCaptureAwaited',
  version: 1,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), captureId: id(), syncLsn: lsn(), occurredAt: timestamp() },
});

/**
 * dsf.dlog: a waiting capture (DlogCaptureAwaited) is withdrawn because its save ended (failed
 * or completed) before the change stream reached its start sync: nothing was captured, and a
 * rebuilt change logger must not capture for that save later.
 */
export const DlogCaptureWithdrawn = defineMessage({
  type: 'DlogCaptureWithdrawn',
  version: 1,
  topic: 'dsf.dlog',
  fields: { dbid: dbid(), captureId: id(), occurredAt: timestamp() },
});

export const DLOG_SYNC_MESSAGES = [DlogSyncRecorded, DlogCaptureAwaited, DlogCaptureWithdrawn] as const;
