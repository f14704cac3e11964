import { openedEventOf } from './catalog';
import { reclaimCandidates } from './reclaim';
import { foldSov, initialSovState, type SovEvent } from './streams';

const S = 'NIGHTLY';
const inc = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;
const opened = (n: number): SovEvent => openedEventOf({ incarnation: inc(n), clientFile: `f${n}`, stream: S, openedAt: 1, codec: { compression: 'none', encryption: 'none' } });
const run = (n: number, volser: string, position: number, extent: number): SovEvent => ({
  type: 'RunPlaced',
  stream: S,
  clientFile: `f${n}`,
  incarnation: inc(n),
  volser,
  firstSeq: 0,
  superblocks: 1,
  last: true,
  position,
  length: extent,
  bytes: extent,
  crcs: [n],
  occurredAt: 2,
});
const closed = (n: number): SovEvent => ({ type: 'ClientFileClosed', stream: S, clientFile: `f${n}`, incarnation: inc(n), superblocks: 1, bytes: 100, sha256: 'a'.repeat(64), occurredAt: 3 });
const mounted = (volser: string, seq: number): SovEvent => ({ type: 'VolumeMounted', stream: S, volser, device: 'd1', streamFile: S, volumeSeq: seq, labelled: true, occurredAt: 1 });

describe('reclaimCandidates', () => {
  const state = () =>
    foldSov(initialSovState(), [
      { type: 'StreamDefined', stream: S, minDevices: 1, maxDevices: 1, volumeCapacity: 1 << 20, runSuperblocks: 4, checkpointEveryBytes: 1 << 16, compression: 'none', encryption: 'none', occurredAt: 0 },
      { type: 'DeviceAdded', stream: S, device: 'd1', occurredAt: 0 },
      mounted('V1', 1),
      ...[1, 2, 3].map(opened),
      run(1, 'V1', 100, 700), // expired
      run(2, 'V1', 800, 100), // live
      run(3, 'V1', 900, 100), // aborted
      closed(1),
      closed(2),
      { type: 'ClientFileAborted', stream: S, clientFile: 'f3', incarnation: inc(3), reason: 'gave up', occurredAt: 3 },
      { type: 'ClientFileExpired', stream: S, clientFile: 'f1', incarnation: inc(1), occurredAt: 4 },
      { type: 'VolumeFull', stream: S, volser: 'V1', bytes: 1000, nextVolser: 'V2', occurredAt: 4 },
      mounted('V2', 2),
      opened(4),
      run(4, 'V2', 100, 500), // still open: V2 is mounted anyway
    ]);

  it('a finished volume whose live runs take less than P % is a candidate, with exactly its live runs (nothing expired or aborted)', () => {
    const a = reclaimCandidates(state(), S, 20);
    expect(a.candidates).toEqual([{ volser: 'V1', size: 1000, liveBytes: 100, livePercent: 10, liveRuns: [expect.objectContaining({ incarnation: inc(2), position: 800, extent: 100 })] }]);
    expect(a.skipped).toEqual([{ volser: 'V2', reason: 'mounted for appending' }]);
  });

  it('at or above the threshold, or holding a client file still open, a volume is left alone and the reason said', () => {
    expect(reclaimCandidates(state(), S, 10)).toMatchObject({ candidates: [], skipped: expect.arrayContaining([{ volser: 'V1', reason: '10 % live, not below 10 %' }]) });
    const s = state();
    foldSov(s, [opened(5), run(5, 'V1', 50, 10)]);
    expect(reclaimCandidates(s, S, 50).skipped).toEqual(expect.arrayContaining([{ volser: 'V1', reason: `holds runs of client file f5 (${inc(5)}), still open` }]));
    expect(() => reclaimCandidates(s, S, 0)).toThrow(/threshold: expected a percentage/);
  });
});
