/** A sov.events stream touching every streaming read model, for projection and SOVADM tests. */
import type { SovEvent } from '../projection';

const T0 = Date.UTC(2026, 10, 22, 22, 0, 0);
const at = (minute: number) => T0 + minute * 60_000;
export const INC = {
  full: '11111111-1111-4111-8111-111111111111',
  delta: '22222222-2222-4222-8222-222222222222',
  aborted: '33333333-3333-4333-8333-333333333333',
  other: '44444444-4444-4444-8444-444444444444',
};
const dsid = (full: number, delta: number) => ({ full, deltaFrom: delta, deltaTo: delta, timestamp: at(delta), lineage: 'L7a' });
const sha = (c: string) => c.repeat(64);
const codec = { compression: 'none' as const, encryption: 'none' as const };

/** Stream NIGHTLY: a full save and its delta of database 7 spanning V00001 → V00002, an aborted file, a file of database 8. */
export function sovFixtureStream(): SovEvent[] {
  const run = (incarnation: string, clientFile: string, volser: string, firstSeq: number, superblocks: number, last: boolean, position: number, minute: number): SovEvent => ({
    type: 'RunPlaced',
    stream: 'NIGHTLY',
    clientFile,
    incarnation,
    volser,
    firstSeq,
    superblocks,
    last,
    position,
    length: superblocks * 262216,
    bytes: superblocks * 262144,
    crcs: Array.from({ length: superblocks }, (_, i) => (firstSeq + i) * 7919),
    occurredAt: at(minute),
  });
  return [
    { type: 'StreamDefined', stream: 'NIGHTLY', minDevices: 1, maxDevices: 2, volumeCapacity: 8 << 20, runSuperblocks: 16, checkpointEveryBytes: 64 << 20, compression: 'none', encryption: 'none', occurredAt: at(0) },
    { type: 'DeviceAdded', stream: 'NIGHTLY', device: 'd1', occurredAt: at(0) },
    { type: 'VolumeMounted', stream: 'NIGHTLY', volser: 'V00001', device: 'd1', streamFile: 'NIGHTLY', volumeSeq: 1, labelled: true, occurredAt: at(1) },
    { type: 'ClientFileOpened', stream: 'NIGHTLY', clientFile: 'db7-full-1', incarnation: INC.full, dbid: 7, dsid: dsid(1, 0), kind: 'full', expiresAt: at(60 * 24 * 7), ...codec, occurredAt: at(1) },
    { type: 'ClientFileOpened', stream: 'NIGHTLY', clientFile: 'db7-delta-1', incarnation: INC.delta, dbid: 7, dsid: dsid(1, 1), kind: 'delta', expiresAt: at(60 * 24 * 14), ...codec, occurredAt: at(2) },
    run(INC.full, 'db7-full-1', 'V00001', 0, 16, false, 600, 3),
    run(INC.delta, 'db7-delta-1', 'V00001', 0, 4, true, 600 + 16 * 262216, 3),
    { type: 'ClientFileClosed', stream: 'NIGHTLY', clientFile: 'db7-delta-1', incarnation: INC.delta, superblocks: 4, bytes: 4 * 262144, sha256: sha('d'), occurredAt: at(4) },
    { type: 'VolumeFull', stream: 'NIGHTLY', volser: 'V00001', bytes: 8 << 20, nextVolser: 'V00002', occurredAt: at(5) },
    { type: 'VolumeMounted', stream: 'NIGHTLY', volser: 'V00002', device: 'd1', streamFile: 'NIGHTLY', volumeSeq: 2, previousVolser: 'V00001', labelled: true, occurredAt: at(5) },
    run(INC.full, 'db7-full-1', 'V00002', 16, 3, true, 700, 6),
    { type: 'ClientFileClosed', stream: 'NIGHTLY', clientFile: 'db7-full-1', incarnation: INC.full, superblocks: 19, bytes: 19 * 262144, sha256: sha('f'), occurredAt: at(6) },
    { type: 'ClientFileOpened', stream: 'NIGHTLY', clientFile: 'db7-try', incarnation: INC.aborted, dbid: 7, kind: 'other', ...codec, occurredAt: at(7) },
    run(INC.aborted, 'db7-try', 'V00002', 0, 2, false, 700 + 3 * 262216, 7),
    { type: 'ClientFileAborted', stream: 'NIGHTLY', clientFile: 'db7-try', incarnation: INC.aborted, reason: 'writer gave up', occurredAt: at(8) },
    { type: 'ClientFileOpened', stream: 'NIGHTLY', clientFile: 'db8-full-1', incarnation: INC.other, dbid: 8, dsid: { ...dsid(1, 0), lineage: 'L8' }, kind: 'full', ...codec, occurredAt: at(9) },
    run(INC.other, 'db8-full-1', 'V00002', 0, 1, true, 700 + 5 * 262216, 9),
    { type: 'ClientFileClosed', stream: 'NIGHTLY', clientFile: 'db8-full-1', incarnation: INC.other, superblocks: 1, bytes: 262144, sha256: sha('8'), occurredAt: at(9) },
    { type: 'DeviceFailed', stream: 'NIGHTLY', device: 'd1', volser: 'V00002', reason: 'EIO', occurredAt: at(10) },
    { type: 'VolumeSuspect', stream: 'NIGHTLY', volser: 'V00002', device: 'd1', position: 700 + 6 * 262216, reason: 'EIO', occurredAt: at(10) },
    { type: 'DeviceAdded', stream: 'NIGHTLY', device: 'd2', occurredAt: at(10) },
    // V00001 verified clean by the scrub, then a flipped byte found by an operator's verify
    { type: 'VolumeVerified', stream: 'NIGHTLY', volser: 'V00001', ok: true, problems: [], problemCount: 0, status: 'full', end: 8 << 20, runs: 2, superblocks: 20, trigger: 'scrub', occurredAt: at(11) },
    {
      type: 'VolumeVerified',
      stream: 'NIGHTLY',
      volser: 'V00001',
      ok: false,
      problems: [{ volser: 'V00001', position: 600, kind: 'damage', reason: 'corrupt record at V00001@600: body CRC32C mismatch' }],
      problemCount: 1,
      status: 'full',
      end: 8 << 20,
      runs: 1,
      superblocks: 4,
      trigger: 'operator',
      correlationId: 'cli-verify-1',
      occurredAt: at(12),
    },
    { type: 'ClientFileVerified', stream: 'NIGHTLY', clientFile: 'db7-delta-1', incarnation: INC.delta, ok: true, problems: [], superblocks: 4, bytes: 4 * 262144, sha256: sha('d'), volsers: ['V00001'], trigger: 'operator', occurredAt: at(12) },
  ];
}
