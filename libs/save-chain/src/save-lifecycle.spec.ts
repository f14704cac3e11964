import { saveLifecycle, type SaveCommand, type SaveEvent, type SaveLifecycleState } from './index';

const { decide, evolve, fold, initialState } = saveLifecycle;

// given events, when a command, then events (or an error)
const given = (...events: SaveEvent[]): SaveLifecycleState => fold(events);
const when = (state: SaveLifecycleState, command: SaveCommand): SaveEvent[] => decide(command, state);
/** runs commands in order, applying each decision, and returns every event */
function run(state: SaveLifecycleState, ...commands: SaveCommand[]): { state: SaveLifecycleState; events: SaveEvent[] } {
  const events: SaveEvent[] = [];
  for (const c of commands) {
    const out = decide(c, state);
    events.push(...out);
    state = out.reduce(evolve, state);
  }
  return { state, events };
}

const active: SaveEvent = { type: 'NucleusStateRecorded', active: true };
const request = (id: string, kind: 'full' | 'delta', online: boolean): SaveCommand => ({ type: 'RequestSave', correlationId: id, kind, online });
const start = (id: string, now: number, startLsn: number | null = null): SaveCommand => ({ type: 'StartSave', correlationId: id, startLsn, now });
const complete = (id: string, endLsn: number | null = null): SaveCommand => ({ type: 'CompleteSave', correlationId: id, endLsn, blocks: 10 });

describe('save lifecycle', () => {
  it('accepts an online full save and assigns the first full DSID at its start sync', () => {
    const { events } = run(given(active), request('c1', 'full', true), start('c1', 1000, 7));
    expect(events[0]).toEqual({ type: 'SaveAccepted', correlationId: 'c1', kind: 'full', online: true });
    expect(events[1]).toMatchObject({ type: 'SaveStarted', startLsn: 7, dsid: { full: 1, deltaFrom: 0, deltaTo: 0, timestamp: 1000 } });
  });

  it('numbers deltas after a full (offline), and a new full resets the delta number; time stamps ascend', () => {
    let s = initialState();
    const dsids: string[] = [];
    const plan: Array<['full' | 'delta', number]> = [['full', 10], ['delta', 20], ['delta', 20], ['full', 5], ['delta', 50]];
    plan.forEach(([kind, now], i) => {
      const id = `c${i}`;
      const r = run(s, request(id, kind, false), start(id, now), complete(id));
      s = r.state;
      const started = r.events.find((e) => e.type === 'SaveStarted');
      if (started?.type !== 'SaveStarted') throw new Error(`save ${id} did not start: ${JSON.stringify(r.events)}`);
      dsids.push(`${started.dsid.full}/${started.dsid.deltaTo}/${started.dsid.timestamp}`);
    });
    expect(dsids).toEqual(['1/0/10', '1/1/20', '1/2/21', '2/0/22', '2/1/50']);
  });

  it('refuses an offline save while the nucleus is active, with the reason', () => {
    expect(when(given(active), request('c1', 'full', false))).toEqual([
      expect.objectContaining({ type: 'SaveRejected', code: 'NUCLEUS_ACTIVE', reason: expect.stringMatching(/nucleus/) }),
    ]);
  });

  it('refuses an online save while the nucleus is inactive', () => {
    expect(when(initialState(), request('c1', 'full', true))).toEqual([expect.objectContaining({ code: 'NUCLEUS_INACTIVE' })]);
  });

  it('refuses a delta without a prior full save', () => {
    expect(when(initialState(), request('c1', 'delta', false))).toEqual([expect.objectContaining({ code: 'NO_FULL_SAVE' })]);
  });

  it('refuses a second save while one runs', () => {
    const { state } = run(initialState(), request('c1', 'full', false));
    expect(when(state, request('c2', 'full', false))).toEqual([expect.objectContaining({ code: 'SAVE_IN_PROGRESS' })]);
  });

  it('is idempotent: a redelivered request decides nothing', () => {
    const { state } = run(initialState(), request('c1', 'full', false), start('c1', 1), complete('c1'));
    expect(when(state, request('c1', 'full', false))).toEqual([]);
    const rejected = run(initialState(), request('c9', 'delta', false)).state;
    expect(when(rejected, request('c9', 'delta', false))).toEqual([]);
  });

  it('a failed save consumes no number and never reuses its time stamp', () => {
    let r = run(given(active), request('c1', 'full', true), start('c1', 100, 1), complete('c1', 2));
    r = run(r.state, request('c2', 'delta', true), start('c2', 200, 3));
    r = run(r.state, { type: 'FailSave', correlationId: 'c2', code: 'KILLED', reason: 'writer stopped' });
    expect(r.events).toEqual([expect.objectContaining({ type: 'SaveFailed', dsid: expect.objectContaining({ deltaTo: 1 }) })]);
    r = run(r.state, request('c3', 'delta', true), start('c3', 150, 4));
    expect(r.events[1]).toMatchObject({ type: 'SaveStarted', dsid: { full: 1, deltaTo: 1, timestamp: 201 } });
  });

  it('records progress monotonically and rejects commands for unknown saves', () => {
    const { state } = run(initialState(), request('c1', 'full', false), start('c1', 1));
    expect(when(state, { type: 'RecordProgress', correlationId: 'c1', blocksWritten: 5, blocksTotal: 10 })).toHaveLength(1);
    const after = run(state, { type: 'RecordProgress', correlationId: 'c1', blocksWritten: 5, blocksTotal: 10 }).state;
    expect(when(after, { type: 'RecordProgress', correlationId: 'c1', blocksWritten: 3, blocksTotal: 10 })).toEqual([]);
    expect(() => when(state, complete('nope'))).toThrow(expect.objectContaining({ code: 'ILLEGAL_STATE' }));
  });

  it('an online save needs a start sync and an end sync not before it', () => {
    const { state } = run(given(active), request('c1', 'full', true));
    expect(() => when(state, start('c1', 1, null))).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    const started = run(state, start('c1', 1, 10)).state;
    expect(() => when(started, complete('c1', 9))).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });

  it('an offline save keeps the LSN at which the nucleus became inactive as its start point', () => {
    const { events } = run(initialState(), request('c1', 'full', false), start('c1', 5, 42));
    expect(events[1]).toMatchObject({ type: 'SaveStarted', online: false, startLsn: 42 });
  });

  it('rejects unknown commands and events', () => {
    expect(() => decide({ type: 'Bogus' } as unknown as SaveCommand, initialState())).toThrow(/unknown command/);
    expect(() => evolve(initialState(), { type: 'Bogus' } as unknown as SaveEvent)).toThrow(/unknown event/);
  });
});

describe('a restore into the database starts a new lineage', () => {
  it('the next delta continues from the restored status on a forked lineage; restoring the current status forks nothing', () => {
    const active: SaveEvent = { type: 'NucleusStateRecorded', active: true };
    let r = run(given(active), request('c1', 'full', true), start('c1', 100, 1), complete('c1', 2));
    r = run(r.state, request('c2', 'delta', true), start('c2', 200, 3), complete('c2', 4));
    const full = (r.events.find((e) => e.type === 'SaveCompleted') as Extract<SaveEvent, { type: 'SaveCompleted' }>).dsid;
    const firstFull = { ...full, deltaFrom: 0, deltaTo: 0 };
    const back = run(r.state, { type: 'RecordRestore', restored: { ...firstFull, timestamp: 1 } });
    expect(back.events[0]).toMatchObject({ type: 'RestoreRecorded', branch: 1 });
    const after = run(back.state, request('c3', 'delta', true), start('c3', 300, 5));
    const started = after.events.find((e) => e.type === 'SaveStarted') as Extract<SaveEvent, { type: 'SaveStarted' }>;
    expect(started.dsid).toMatchObject({ full: 1, deltaFrom: 1, deltaTo: 1 });
    expect(started.dsid.lineage).toMatch(/>1:0#1$/);
  });
});
