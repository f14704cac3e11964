import type { Dsid } from '@deltaflow/dsid';
import { dsim, type DsimCommand, type DsimEvent, type DsimState } from './index';

const dsid: Dsid = { full: 1, deltaFrom: 0, deltaTo: 0, timestamp: 1, lineage: 'L1' };
function run(state: DsimState, ...commands: DsimCommand[]): { state: DsimState; events: DsimEvent[] } {
  const events: DsimEvent[] = [];
  for (const c of commands) {
    const out = dsim.decide(c, state);
    events.push(...out);
    state = out.reduce(dsim.evolve, state);
  }
  return { state, events };
}
const acquire: DsimCommand = { type: 'Acquire', correlationId: 's1', dsid, startLsn: 10 };
const plog = (lsn: number): DsimCommand => ({ type: 'RecordPlogSync', lsn });
const ended = (endLsn: number): DsimCommand => ({ type: 'EndSave', correlationId: 's1', outcome: 'completed', endLsn });
const complete = (blocks = 3): DsimCommand => ({ type: 'Complete', correlationId: 's1', blocks });

describe('DSIM lifecycle (the one authority on the DSIM state)', () => {
  it('is the window (s, e] of the PLOG: it completes once the save ended at e AND the PLOG was read through e', () => {
    let { state, events } = run(dsim.initialState(), acquire, plog(15), ended(20));
    expect(events.map((e) => e.type)).toEqual(['DsimAcquired', 'DsimPlogAdvanced', 'DsimSaveEnded']);
    expect(dsim.completionDue(state)).toBeNull();
    expect(dsim.decide(complete(), state)).toEqual([]); // not yet: the PLOG is behind the end sync
    ({ state, events } = run(state, plog(20), complete(7)));
    expect(events.at(-1)).toEqual({ type: 'DsimCompleted', correlationId: 's1', dsid, startLsn: 10, endLsn: 20, blocks: 7 });
    expect(state).toMatchObject({ status: 'complete', startLsn: 10, endLsn: 20, blocks: 7 });
    expect(dsim.decide(complete(7), state)).toEqual([]); // redelivery
  });

  it('also completes when the PLOG reached e before the save reported its end', () => {
    const { state } = run(dsim.initialState(), acquire, plog(25), ended(20));
    expect(dsim.completionDue(state)).toMatchObject({ correlationId: 's1', startLsn: 10, endLsn: 20 });
  });

  it('refuses a second acquire while in use, clearly', () => {
    const { state } = run(dsim.initialState(), acquire);
    expect(dsim.decide({ ...acquire, correlationId: 's2' }, state)).toEqual([
      expect.objectContaining({ type: 'DsimRejected', code: 'DSIM_IN_USE', reason: expect.stringMatching(/in use by the online save s1/) }),
    ]);
    expect(dsim.decide(acquire, state)).toEqual([]); // redelivery
  });

  it('unload: refused while free or collecting; once complete, recorded after the data set is written, and frees the DSIM', () => {
    expect(dsim.decide({ type: 'Unload', correlationId: 'u' }, dsim.initialState())).toEqual([expect.objectContaining({ code: 'DSIM_FREE' })]);
    const collecting = run(dsim.initialState(), acquire).state;
    expect(dsim.decide({ type: 'Unload', correlationId: 'u' }, collecting)).toEqual([expect.objectContaining({ code: 'DSIM_NOT_COMPLETE' })]);
    const done = run(collecting, ended(20), plog(20), complete()).state;
    expect(dsim.decide({ type: 'Unload', correlationId: 'u' }, done)).toEqual([]);
    const { state, events } = run(done, { type: 'RecordUnloaded', correlationId: 'u', location: { kind: 'directory', name: 'x' }, blocks: 3, digest: 'ab' });
    expect(events).toEqual([{ type: 'DsimUnloaded', correlationId: 'u', dsid, location: { kind: 'directory', name: 'x' }, blocks: 3, digest: 'ab' }]);
    expect(state.status).toBe('free');
    expect(state.plogLsn).toBe(20); // the PLOG position outlives the DSIM
  });

  it('a failed online save frees its DSIM; another save ending changes nothing', () => {
    const { state } = run(dsim.initialState(), acquire);
    expect(dsim.decide({ type: 'EndSave', correlationId: 'other', outcome: 'failed' }, state)).toEqual([]);
    const failed = run(state, { type: 'EndSave', correlationId: 's1', outcome: 'failed' });
    expect(failed.events).toEqual([{ type: 'DsimReset', correlationId: 's1', dsid }]);
    expect(failed.state.status).toBe('free');
  });

  it('reset: refused while its save collects or while complete and never unloaded, unless forced; frees it and names the DSID', () => {
    const { state } = run(dsim.initialState(), acquire);
    expect(dsim.decide({ type: 'Reset', correlationId: 'r' }, state)).toEqual([expect.objectContaining({ type: 'DsimRejected', code: 'DSIM_IN_USE' })]);
    const complete3 = run(state, ended(20), plog(20), complete()).state;
    expect(dsim.decide({ type: 'Reset', correlationId: 'r' }, complete3)).toEqual([
      expect.objectContaining({ type: 'DsimRejected', code: 'DSIM_NOT_UNLOADED', reason: expect.stringMatching(/orphans that save.*--force/) }),
    ]);
    expect(run(complete3, { type: 'Reset', correlationId: 'r', force: true }).state.status).toBe('free');
    expect(run(state, { type: 'Reset', correlationId: 'r', force: true }).events).toEqual([{ type: 'DsimReset', correlationId: 'r', dsid }]);
    expect(run(dsim.initialState(), { type: 'Reset', correlationId: 'r' }).events).toEqual([{ type: 'DsimReset', correlationId: 'r' }]);
    expect(() => dsim.decide(ended(5), state)).toThrow(/precedes start sync/);
  });

  it('the PLOG it no longer needs: below its start sync while in use, through its end once freed', () => {
    expect(dsim.plogForgettableThrough(dsim.initialState())).toBeNull();
    const inUse = run(dsim.initialState(), acquire).state;
    expect(dsim.plogForgettableThrough(inUse)).toBe(10);
    expect(dsim.plogForgettableThrough(run(inUse, { type: 'EndSave', correlationId: 's1', outcome: 'failed' }).state)).toBeNull();
    const done = run(inUse, ended(20), plog(20), complete(), { type: 'Reset', correlationId: 'r', force: true }).state;
    expect(dsim.plogForgettableThrough(done)).toBe(20);
  });

  it('snapshot (a merge reading the original DSIM): only a complete DSIM; a merge that consumed it releases it', () => {
    expect(dsim.decide({ type: 'Snapshot', correlationId: 's' }, dsim.initialState())).toEqual([expect.objectContaining({ code: 'DSIM_FREE' })]);
    const collecting = run(dsim.initialState(), acquire).state;
    expect(dsim.decide({ type: 'Snapshot', correlationId: 's' }, collecting)).toEqual([expect.objectContaining({ code: 'DSIM_NOT_COMPLETE' })]);
    const done = run(collecting, ended(20), plog(20), complete()).state;
    expect(dsim.decide({ type: 'Snapshot', correlationId: 's' }, done)).toEqual([]);
    expect(dsim.decide({ type: 'Release', correlationId: 'm', dsid: { ...dsid, deltaTo: 9 } }, done)).toEqual([]);
    const released = run(done, { type: 'Release', correlationId: 'm', dsid });
    expect(released.events).toEqual([{ type: 'DsimReleased', correlationId: 'm', dsid }]);
    expect(released.state.status).toBe('free');
  });

  it('print: refused while free', () => {
    expect(dsim.decide({ type: 'Print', correlationId: 'p' }, dsim.initialState())).toEqual([expect.objectContaining({ code: 'DSIM_FREE' })]);
    expect(dsim.decide({ type: 'Print', correlationId: 'p' }, run(dsim.initialState(), acquire).state)).toEqual([]);
  });
});

describe('DSIM decider input checks', () => {
  it('rejects unknown commands and events', () => {
    expect(() => dsim.decide({ type: 'X' } as unknown as DsimCommand, dsim.initialState())).toThrow(/unknown DSIM command/);
    expect(() => dsim.evolve(dsim.initialState(), { type: 'X' } as unknown as DsimEvent)).toThrow(/unknown DSIM event/);
  });
});
