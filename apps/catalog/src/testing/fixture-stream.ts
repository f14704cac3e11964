/** A dsf.events stream touching every read model, for projection tests and the e2e test. */
import type { Dsid } from '@deltaflow/dsid';
import type { DsfEvent } from '../projection';

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
