import { DsidChainCommand, DsidChainEvent, DsidChainState, decide, evolve, initialState } from './chain';
import { DsidStateError } from './errors';
import { formatDsid } from './format';
import { validateMerge } from './validate';
import { ds, ruleError, t } from './testing';

/** given events, when command at `now`, then events (and the state after them) */
function run(commands: Array<[DsidChainCommand, number]>): { state: DsidChainState; events: DsidChainEvent[] } {
  let state = initialState();
  const events: DsidChainEvent[] = [];
  for (const [c, now] of commands) {
    for (const e of decide(c, state, now)) {
      events.push(e);
      state = evolve(state, e);
    }
  }
  return { state, events };
}
const FULL: DsidChainCommand = { type: 'AssignFullSave' };
const DELTA: DsidChainCommand = { type: 'AssignDeltaSave' };
const dsidsOf = (events: DsidChainEvent[]) =>
  events.flatMap((e) => (e.type === 'RestoreRecorded' ? [] : [formatDsid(e.dsid)]));

describe('DSID chain decider', () => {
  it('a full save increments the full number and resets the delta number; a delta increments the delta number', () => {
    const { events, state } = run([
      [FULL, t(1)],
      [DELTA, t(2)],
      [DELTA, t(3)],
      [FULL, t(4)],
      [DELTA, t(5)],
    ]);
    const root1 = `F1T${t(1).toString(36).toUpperCase()}`;
    const root2 = `F2T${t(4).toString(36).toUpperCase()}`;
    expect(dsidsOf(events)).toEqual([
      `1/0/2026-11-22T01:00:00.000Z@${root1}`,
      `1/1/2026-11-22T02:00:00.000Z@${root1}`,
      `1/2/2026-11-22T03:00:00.000Z@${root1}`,
      `2/0/2026-11-22T04:00:00.000Z@${root2}`,
      `2/1/2026-11-22T05:00:00.000Z@${root2}`,
    ]);
    expect(state.current?.deltaTo).toBe(1);
  });

  it('rejects a delta save before any full save, changing nothing', () => {
    const s = initialState();
    expect(() => decide(DELTA, s, t(1))).toThrow(DsidStateError);
    expect(s).toEqual(initialState());
  });

  it('keeps time stamps strictly ascending when the clock does not move forward (last + 1 ms)', () => {
    const { events } = run([
      [FULL, t(5)],
      [DELTA, t(5)],
      [DELTA, t(3)],
    ]);
    expect(events.map((e) => (e.type === 'RestoreRecorded' ? 0 : e.dsid.timestamp))).toEqual([t(5), t(5) + 1, t(5) + 2]);
  });

  it('rejects a bad `now`', () => {
    expect(() => decide(FULL, initialState(), -1)).toThrow(/now/);
    expect(() => decide(FULL, initialState(), 1.5)).toThrow(/now/);
  });

  it('seed "Invalid Merges" replayed through the chain: the restore forks a branch and the bad merge is rejected', () => {
    const s1 = run([[FULL, t(1)]]);
    const full = (s1.events[0] as Extract<DsidChainEvent, { type: 'FullSaveAssigned' }>).dsid;
    const { events, state } = run([
      [FULL, t(1)],
      [DELTA, t(2)],
      [{ type: 'RecordRestore', restored: full }, t(2) + 60_000],
      [DELTA, t(3)],
      [DELTA, t(4)],
    ]);
    const restore = events[2];
    expect(restore).toMatchObject({ type: 'RestoreRecorded', branch: 1, lineage: `${full.lineage}>1:0#1` });
    const [f, d12, , d13, d24] = events.map((e) => (e.type === 'RestoreRecorded' ? e.restored : e.dsid));
    // DSIDs "reused" exactly as in the seed: 1/1/t2 and 1/1/t3
    expect([d12, d13, d24].map((d) => `${d.full}/${d.deltaTo}`)).toEqual(['1/1', '1/1', '1/2']);
    expect(state.lineage).toBe(`${full.lineage}>1:0#1`);
    const e = ruleError(() =>
      validateMerge([ds('full', 'full', f), ds('t2', 'delta', d12), ds('t4', 'delta', d24)]),
    );
    expect(e).toMatchObject({ rule: 'SAME_LINEAGE', inputs: ['t2', 't4'] });
    expect(validateMerge([ds('full', 'full', f), ds('t3', 'delta', d13), ds('t4', 'delta', d24)]).output).toMatchObject({
      full: 1,
      deltaFrom: 0,
      deltaTo: 2,
      timestamp: t(4),
    });
  });

  it('a new full save after a restore reuses the full number but starts a different lineage', () => {
    const first = run([[FULL, t(1)], [DELTA, t(2)], [FULL, t(3)]]);
    const full1 = first.events[0] as Extract<DsidChainEvent, { type: 'FullSaveAssigned' }>;
    const full2a = first.events[2] as Extract<DsidChainEvent, { type: 'FullSaveAssigned' }>;
    let state = first.state;
    for (const [c, now] of [
      [{ type: 'RecordRestore', restored: full1.dsid }, t(4)],
      [FULL, t(5)],
      [DELTA, t(6)],
    ] as Array<[DsidChainCommand, number]>) {
      for (const e of decide(c, state, now)) state = evolve(state, e);
    }
    expect(state.current?.full).toBe(2);
    expect(state.lineage).not.toBe(full2a.dsid.lineage);
    // delta 2/1 of the second "full 2" does not merge with the first "full 2"
    expect(
      ruleError(() => validateMerge([ds('f2a', 'full', full2a.dsid), ds('d', 'delta', state.current!)])),
    ).toMatchObject({ rule: 'SAME_LINEAGE' });
  });

  it('two restores of the same point give two different branches', () => {
    const { events } = run([
      [FULL, t(1)],
      [DELTA, t(2)],
    ]);
    const delta = (events[1] as Extract<DsidChainEvent, { type: 'DeltaSaveAssigned' }>).dsid;
    const full = (events[0] as Extract<DsidChainEvent, { type: 'FullSaveAssigned' }>).dsid;
    let state = run([[FULL, t(1)], [DELTA, t(2)]]).state;
    const lineages: string[] = [];
    for (const [c, now] of [
      [{ type: 'RecordRestore', restored: full }, t(3)],
      [DELTA, t(4)],
      [{ type: 'RecordRestore', restored: full }, t(5)],
    ] as Array<[DsidChainCommand, number]>) {
      for (const e of decide(c, state, now)) {
        if (e.type === 'RestoreRecorded') lineages.push(e.lineage);
        state = evolve(state, e);
      }
    }
    expect(lineages).toEqual([`${full.lineage}>1:0#1`, `${full.lineage}>1:0#2`]);
    expect(delta.lineage).toBe(full.lineage);
  });

  it('restoring the current status does not fork; restoring a future save is refused', () => {
    const { events, state } = run([
      [FULL, t(1)],
      [DELTA, t(2)],
    ]);
    const delta = (events[1] as Extract<DsidChainEvent, { type: 'DeltaSaveAssigned' }>).dsid;
    expect(decide({ type: 'RecordRestore', restored: delta }, state, t(3))).toEqual([
      { type: 'RestoreRecorded', restored: delta, lineage: delta.lineage, branch: null },
    ]);
    expect(() => decide({ type: 'RecordRestore', restored: { ...delta, timestamp: t(9) } }, state, t(3))).toThrow(
      /newer than any save/,
    );
    expect(() => decide({ type: 'RecordRestore', restored: { ...delta, lineage: '' } }, state, t(3))).toThrow(/lineage/);
  });

  it('a restore onto a never-saved database starts a branch of the restored save', () => {
    const restored = { full: 3, deltaFrom: 0, deltaTo: 4, timestamp: t(1), lineage: 'R' };
    const { state } = run([
      [{ type: 'RecordRestore', restored }, t(2)],
      [DELTA, t(3)],
    ]);
    expect(state.current).toMatchObject({ full: 3, deltaFrom: 5, deltaTo: 5, lineage: 'R>3:4#1' });
  });
});
