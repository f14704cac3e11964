import { parseCommandLine } from '../program';
import { reclaimLines, thresholdArg } from './reclaim';

describe('dsf volumes reclaim', () => {
  it('takes a whole percentage 1..100 as the threshold, and refuses anything else by name', () => {
    expect(thresholdArg('40')).toBe(40);
    expect(thresholdArg('40%')).toBe(40);
    for (const bad of ['0', '101', '12.5', 'half', ''])
      expect(() => thresholdArg(bad)).toThrow(/--threshold: expected a whole percentage 1\.\.100/);
    expect(parseCommandLine(['volumes', 'reclaim', '--threshold', '40', '--stream', 'S1', '--dry-run'])).toMatchObject({ kind: 'plan', plan: { kind: 'run', command: 'volumes reclaim' } });
    expect(() => parseCommandLine(['volumes', 'reclaim'])).toThrow(/required option '--threshold <P>' not specified/);
    expect(() => parseCommandLine(['volumes', 'reclaim', '--threshold', '0'])).toThrow(/--threshold: expected a whole percentage/);
  });

  it('says what became of each volume and why the others were left alone', () => {
    const lines = reclaimLines({
      type: 'VolumesReclaimed',
      stream: 'S1',
      thresholdPercent: 40,
      dryRun: false,
      ok: false,
      volumes: [
        { volser: 'V00001', size: 1000, liveBytes: 100, runs: 2, moved: 2, outcome: 'scratched' },
        { volser: 'V00003', size: 1000, liveBytes: 300, runs: 3, moved: 1, outcome: 'failed', reason: 'no working device' },
      ],
      skipped: [{ volser: 'V00002', reason: 'mounted for appending' }],
      runsMoved: 3,
      occurredAt: 1,
    });
    expect(lines).toEqual([
      'stream S1: volume V00001 reclaimed (10 % live): 2 live runs moved, returned to scratch',
      'stream S1: volume V00003 NOT reclaimed (1 of 3 runs moved): no working device',
      '  V00002 left alone: mounted for appending',
    ]);
  });
});
