/**
 * A part of the fault matrix (test/faults) that fits in `npm test`: kill -9 of each service
 * process, of the broker and of PostgreSQL at chosen points of saves, DSIM unloads, merges and
 * restores and saves to a stream, each restarted at once: one case per target (seven), sized to fit `npm test`. The
 * whole matrix (every target at every point, repeated) is test/faults/run.ts.
 */
import { FaultMatrix, type FaultCase } from '../faults/matrix';
import { FaultRig } from '../faults/rig';

jest.setTimeout(1_200_000);

const CASES: FaultCase[] = [
  { target: 'save-writer', point: 'save-copy' },
  { target: 'change-logger', point: 'save-start' },
  { target: 'dsim-builder', point: 'dsim-unload' },
  { target: 'merge-engine', point: 'restore' },
  { target: 'stream-multiplexer', point: 'stream-save' },
  { target: 'broker', point: 'save-copy' },
  { target: 'postgres', point: 'save-end' },
];

let rig: FaultRig;
let matrix: FaultMatrix;
const log: string[] = [];

beforeAll(async () => {
  rig = new FaultRig({ dbMib: 16, bytesPerSec: '4MiB' });
  await rig.start();
  matrix = new FaultMatrix(rig, (m) => log.push(m));
  await matrix.begin();
});

afterAll(async () => {
  if (matrix) console.log(`fault matrix:\n${matrix.table()}`);
  await rig?.stop();
});

describe('fault matrix on real processes (kill -9, restarted at once)', () => {
  for (const c of CASES) {
    it(`kill -9 of ${c.target} at ${c.point}: reported, nothing partial under a final name, the next delta completes`, async () => {
      const r = await matrix.run(c);
      if (r.problem) console.log(`${r.problem}\n${rig.tail(150)}`);
      expect({ case: `${c.target}@${c.point}`, problem: r.problem, held: r.held }).toEqual({ case: `${c.target}@${c.point}`, problem: undefined, held: { reported: true, whole: true, nextDelta: true } });
    });
  }

  it('the chain restores to the nucleus digest at its last save', async () => {
    const final = await matrix.finalRestore();
    expect(final).toMatchObject({ ok: true });
  });
});
