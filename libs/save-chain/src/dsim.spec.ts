import type { Dsid } from '@deltaflow/dsid';
import { decideDsim, DsimCommand, DsimEvent, DsimState, evolveDsim, initialDsimState } from './index';

const dsid: Dsid = { full: 1, deltaFrom: 0, deltaTo: 0, timestamp: 1, lineage: 'L1' };
function run(state: DsimState, ...commands: DsimCommand[]): { state: DsimState; events: DsimEvent[] } {
  const events: DsimEvent[] = [];
  for (const c of commands) {
    const out = decideDsim(c, state);
    events.push(...out);
    state = out.reduce(evolveDsim, state);
  }
  return { state, events };
}
const img = (rabn: number, lsn: number): DsimCommand => ({ type: 'RecordImage', area: 'DATA', rabn, lsn });
const acquire: DsimCommand = { type: 'Acquire', correlationId: 's1', dsid, startLsn: 10 };

describe('DSIM lifecycle', () => {
  it('collects the last image of every block changed in (s, e]', () => {
    const { state, events } = run(initialDsimState(), img(1, 5), acquire, img(1, 10), img(1, 11), img(2, 12), img(1, 13), img(1, 13), img(3, 30), {
      type: 'Complete',
      correlationId: 's1',
      endLsn: 20,
    });
    expect(events.filter((e) => e.type === 'DsimImageRecorded').map((e) => (e.type === 'DsimImageRecorded' ? e.lsn : 0))).toEqual([11, 12, 13, 30]);
    expect(events.at(-1)).toMatchObject({ type: 'DsimCompleted', endLsn: 20, blocks: 2 });
    if (state.status !== 'complete') throw new Error('not complete');
    expect([...state.blocks]).toEqual([
      ['DATA:1', 13],
      ['DATA:2', 12],
    ]);
  });

  it('refuses a second acquire while in use, clearly', () => {
    const { state } = run(initialDsimState(), acquire);
    expect(decideDsim({ ...acquire, correlationId: 's2' }, state)).toEqual([
      expect.objectContaining({ type: 'DsimRejected', code: 'DSIM_IN_USE', reason: expect.stringMatching(/in use by the online save s1/) }),
    ]);
    expect(decideDsim(acquire, state)).toEqual([]); // redelivery
  });

  it('unloads only a complete DSIM, with the save DSID, and is then free', () => {
    const collecting = run(initialDsimState(), acquire, img(4, 11)).state;
    expect(decideDsim({ type: 'Unload', correlationId: 'u1', destination: 'd1' }, collecting)).toEqual([
      expect.objectContaining({ code: 'DSIM_NOT_COMPLETE' }),
    ]);
    const { state, events } = run(collecting, { type: 'Complete', correlationId: 's1', endLsn: 12 }, { type: 'Unload', correlationId: 'u1', destination: 'd1' });
    expect(events.at(-1)).toEqual({ type: 'DsimUnloaded', correlationId: 'u1', dsid, destination: 'd1', blocks: 1 });
    expect(state).toEqual({ status: 'free' });
    expect(decideDsim({ type: 'Unload', correlationId: 'u2', destination: 'd1' }, state)).toEqual([expect.objectContaining({ code: 'DSIM_FREE' })]);
  });

  it('reset frees the DSIM for the next online save', () => {
    const { state, events } = run(initialDsimState(), acquire, { type: 'Reset', correlationId: 'r1' }, { ...acquire, correlationId: 's2' });
    expect(events.map((e) => e.type)).toEqual(['DsimAcquired', 'DsimReset', 'DsimAcquired']);
    expect(state).toMatchObject({ status: 'collecting', correlationId: 's2' });
  });

  it('refuses completion of an unknown save and an end before the start', () => {
    expect(() => decideDsim({ type: 'Complete', correlationId: 's1', endLsn: 3 }, initialDsimState())).toThrow(expect.objectContaining({ code: 'ILLEGAL_STATE' }));
    const { state } = run(initialDsimState(), acquire);
    expect(() => decideDsim({ type: 'Complete', correlationId: 's1', endLsn: 3 }, state)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });

  it('rejects unknown commands and events', () => {
    expect(() => decideDsim({ type: 'X' } as unknown as DsimCommand, initialDsimState())).toThrow(/unknown DSIM command/);
    expect(() => evolveDsim(initialDsimState(), { type: 'X' } as unknown as DsimEvent)).toThrow(/unknown DSIM event/);
  });
});
