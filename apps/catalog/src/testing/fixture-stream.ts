/** A dsf.events stream touching every read model, for projection tests and the e2e test. */
import type { Dsid } from '@deltaflow/dsid';
import type { CatalogEvent, DsfEvent } from '../projection';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const dsid = (full: number, deltaFrom: number, deltaTo: number, minute: number, lineage = 'L7a'): Dsid => ({
  full,
  deltaFrom,
  deltaTo,
  timestamp: T0 + minute * 60_000,
  lineage,
});
const at = (minute: number) => T0 + minute * 60_000;

/** Database `dbid`'s history: full save, online delta with its DSIM, a failed save, a merge, a reset, a new lineage. */
export function fixtureStream(dbid = 7): DsfEvent[] {
  const full = dsid(1, 0, 0, 0);
  const delta = dsid(1, 1, 1, 10);
  const merged = dsid(2, 0, 0, 30);
  const branch = dsid(1, 0, 0, 40, 'L7b');
  return [
    { type: 'SaveStarted', correlationId: 'c1', dbid, dsid: full, kind: 'full', online: false, occurredAt: at(0) },
    { type: 'SaveProgress', correlationId: 'c1', dbid, blocksWritten: 10, occurredAt: at(1) },
    { type: 'SaveCompleted', correlationId: 'c1', dbid, dsid: full, kind: 'full', online: false, location: { kind: 'directory', name: 'full-1' }, blocks: 120, bytes: 491520, digest: 'aa11bb22cc33', occurredAt: at(2) },
    { type: 'SaveStarted', correlationId: 'c2', dbid, dsid: delta, kind: 'delta', online: true, startLsn: 100, occurredAt: at(10) },
    { type: 'DsimAcquired', correlationId: 'c2', dbid, dsid: delta, startLsn: 100, occurredAt: at(10) },
    { type: 'SaveCompleted', correlationId: 'c2', dbid, dsid: delta, kind: 'delta', online: true, startLsn: 100, endLsn: 180, location: { kind: 'stream', stream: 'S1', clientFile: 'delta-1' }, blocks: 17, bytes: 69632, digest: 'dd44ee55ff66', occurredAt: at(12) },
    { type: 'DsimCompleted', correlationId: 'c2', dbid, dsid: delta, startLsn: 100, endLsn: 180, blocks: 5, occurredAt: at(13) },
    { type: 'DsimUnloaded', correlationId: 'u1', dbid, dsid: delta, location: { kind: 'directory', name: 'dsim-1' }, blocks: 5, digest: '0123456789ab', occurredAt: at(14) },
    { type: 'SaveStarted', correlationId: 'c3', dbid, dsid: dsid(1, 2, 2, 20), kind: 'delta', online: false, occurredAt: at(20) },
    { type: 'SaveFailed', correlationId: 'c3', dbid, dsid: dsid(1, 2, 2, 20), code: 'IO', reason: 'disk full', occurredAt: at(21) },
    { type: 'SaveFailed', correlationId: 'c9', dbid, code: 'VALIDATION', reason: 'no full save to delta from', occurredAt: at(22) },
    { type: 'MergeCompleted', correlationId: 'm1', dbid, dsid: merged, kind: 'full', inputs: ['full-1', 'delta-1'], location: { kind: 'directory', name: 'full-2' }, blocks: 120, digest: 'abcdef012345', occurredAt: at(30) },
    { type: 'DsimReset', correlationId: 'r1', dbid, occurredAt: at(35) },
    { type: 'SaveStarted', correlationId: 'c5', dbid, dsid: branch, kind: 'full', online: false, occurredAt: at(40) },
    { type: 'SaveCompleted', correlationId: 'c5', dbid, dsid: branch, kind: 'full', online: false, location: { kind: 'directory', name: 'full-b1' }, blocks: 120, bytes: 491520, digest: '998877665544', occurredAt: at(41) },
  ];
}

/** Restores of database `dbid`: one completed into the database itself, one interrupted, a shadow and its regeneration. */
export function restoreStream(dbid = 7): DsfEvent[] {
  const full = dsid(1, 0, 0, 0);
  return [
    { type: 'RestoreStarted', correlationId: 'r1', dbid, target: 'db', inputs: ['full-1', 'delta-1'], shadow: false, occurredAt: at(50) },
    { type: 'OperationProgress', correlationId: 'r1', dbid, bytesDone: 1 << 20, occurredAt: at(51) },
    { type: 'RestoreCompleted', correlationId: 'r1', dbid, target: 'db', dsid: full, blocks: 120, digest: 'cafe0123babe', intoDatabase: true, ranges: [{ area: 'DATA', from: 1, to: 120 }], occurredAt: at(52) },
    { type: 'RestoreStarted', correlationId: 'r2', dbid, target: 'copy', inputs: ['full-1'], shadow: false, occurredAt: at(53) },
    { type: 'RestoreInterrupted', correlationId: 'r2', dbid, target: 'copy', code: 'ENGINE_RESTARTED', reason: 'resubmit without the full save', occurredAt: at(54) },
    { type: 'RestoreStarted', correlationId: 's1', dbid, target: 'sh1', inputs: ['full-1'], shadow: true, occurredAt: at(55) },
    { type: 'RestoreCompleted', correlationId: 's1', dbid, target: 'sh1', dsid: full, shadow: true, blocks: 120, digest: 'feed0123face', occurredAt: at(56) },
    { type: 'ShadowRegenerated', correlationId: 'g1', dbid, shadow: 'sh1', fromLsn: 180, toLsn: 250, blocks: 9, digest: 'beef0123dead', occurredAt: at(57) },
  ];
}

/** The DLOG of database `dbid` as the change logger recorded it: changes, marks, a sync, a capture that completes, then more changes. */
export function dlogStream(dbid = 7): CatalogEvent[] {
  return [
    { type: 'DlogRecorded', dbid, lsn: 10, ranges: [{ area: 'DATA', from: 1, to: 5 }, { area: 'ASSO', from: 30, to: 30 }], marks: [], occurredAt: at(0) },
    { type: 'DlogRecorded', dbid, lsn: 11, ranges: [], marks: [{ file: 1, parts: ['INDEX'], extents: [{ part: 'DATA', from: 7, to: 9 }] }], occurredAt: at(1) },
    { type: 'DlogSyncRecorded', dbid, lsn: 12, syncId: 's12', occurredAt: at(2) },
    { type: 'DlogCaptured', dbid, correlationId: 'c2', syncLsn: 12, ranges: [{ area: 'DATA', from: 1, to: 9 }], marks: [{ file: 1, parts: ['INDEX'], extents: [{ part: 'DATA', from: 7, to: 9 }] }], occurredAt: at(3) },
    { type: 'DlogRecorded', dbid, lsn: 20, ranges: [{ area: 'DATA', from: 100, to: 101 }], marks: [], occurredAt: at(4) },
    { type: 'DlogDropped', dbid, correlationId: 'c2', occurredAt: at(5) },
  ];
}
