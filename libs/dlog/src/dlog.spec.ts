import { addressesIn, type BlockSet, type Geometry } from '@deltaflow/blocks';
import { blocksToSave } from './blocks-to-save';
import { decide, evolve, initialState, liveBlocks, liveMarks, type DlogCommand, type DlogEvent, type DlogState } from './dlog';
import { DlogError } from './errors';
import { dlogStateFromJSON, dlogStateToJSON } from './snapshot';

// One small database: ASSO 1..100, DATA 1..200; file 1 owns DATA 1..100, AC 10..20, INDEX 21..40;
// file 2 owns DATA 101..200, AC 41..50, INDEX 51..60. Admin blocks (2 file slots): ASSO 1..6.
const geometry: Geometry = {
  asso: { blockSize: 512, blocks: 100 },
  data: { blockSize: 512, blocks: 200 },
  maxFiles: 2,
  files: [
    { file: 1, extents: [{ part: 'DATA', from: 1, to: 100 }, { part: 'AC', from: 10, to: 20 }, { part: 'INDEX', from: 21, to: 40 }] },
    { file: 2, extents: [{ part: 'DATA', from: 101, to: 200 }, { part: 'AC', from: 41, to: 50 }, { part: 'INDEX', from: 51, to: 60 }] },
  ],
};

function fresh(config = {}): DlogState {
  return initialState(1, geometry, config);
}

/** Run commands from the initial state, folding the events each decides; returns the state and every event. */
function run(commands: DlogCommand[], start: DlogState = fresh()): { state: DlogState; events: DlogEvent[] } {
  let state = start;
  const events: DlogEvent[] = [];
  for (const c of commands) {
    const out = decide(c, state);
    for (const e of out) state = evolve(state, e);
    events.push(...out);
  }
  return { state, events };
}

function change(area: 'ASSO' | 'DATA', rabn: number, lsn: number): DlogCommand {
  return { type: 'RecordChanges', changes: [{ area, rabn, lsn }] };
}

function sync(lsn: number): DlogCommand {
  return { type: 'ObserveSync', lsn, syncId: `s${lsn}` };
}

function capture(correlationId: string, syncLsn: number): DlogCommand {
  return { type: 'CaptureForSave', correlationId, syncLsn };
}

const drop = (correlationId: string): DlogCommand => ({ type: 'EndSave', correlationId, outcome: 'completed' });
const giveBack = (correlationId: string): DlogCommand => ({ type: 'EndSave', correlationId, outcome: 'failed', reason: 'x' });
const utility = (lsn: number, file: number, parts: Array<'DATA' | 'AC' | 'INDEX'>, extents?: Array<{ part: 'DATA' | 'AC'; from: number; to: number }>): DlogCommand => ({
  type: 'RecordUtilityChange',
  lsn,
  file,
  parts,
  ...(extents ? { extents } : {}),
});

function rabns(s: BlockSet): number[] {
  return [...s];
}

function expectDlogError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DlogError);
    expect((e as DlogError).code).toBe(code);
    return;
  }
  throw new Error(`expected a DlogError ${code}, nothing was thrown`);
}

describe('DLOG decider: block changes', () => {
  it('given an empty DLOG, when blocks change, then their RABNs are marked per area', () => {
    const { state, events } = run([change('DATA', 7, 1), change('ASSO', 30, 2), change('DATA', 9, 3)]);
    expect(events.map((e) => e.type)).toEqual(['DlogRecorded', 'DlogRecorded', 'DlogRecorded']);
    const live = liveBlocks(state);
    expect(rabns(live.DATA)).toEqual([7, 9]);
    expect(rabns(live.ASSO)).toEqual([30]);
    expect(state.lastLsn).toBe(3);
  });

  it('given a block already in the DLOG, when it changes again, then it is not recorded again (only the LSN moves)', () => {
    const { state } = run([change('DATA', 7, 1)]);
    expect(decide(change('DATA', 7, 2), state)).toEqual([{ type: 'DlogRecorded', dbid: 1, lsn: 2, ranges: [], marks: [] }]);
  });

  it('given a batch, when recorded, then one event carries only the new blocks', () => {
    const { state } = run([change('DATA', 7, 1)]);
    const events = decide(
      {
        type: 'RecordChanges',
        changes: [
          { area: 'DATA', rabn: 7, lsn: 2 },
          { area: 'DATA', rabn: 8, lsn: 3 },
          { area: 'DATA', rabn: 8, lsn: 4 },
        ],
      },
      state,
    );
    expect(events).toEqual([{ type: 'DlogRecorded', dbid: 1, lsn: 4, ranges: [{ area: 'DATA', from: 8, to: 8 }], marks: [] }]);
  });

  it('when a RABN is outside its area, then VALIDATION and no event', () => {
    expectDlogError(() => decide(change('DATA', 201, 1), fresh()), 'VALIDATION');
    expectDlogError(() => decide(change('ASSO', 0, 1), fresh()), 'VALIDATION');
    expectDlogError(() => decide({ type: 'RecordChanges', changes: [{ area: 'XYZ' as 'DATA', rabn: 1, lsn: 1 }] }, fresh()), 'VALIDATION');
  });

  it('given changes up to LSN 10, when a change of another block arrives at LSN 5, then LSN_NOT_INCREASING', () => {
    const { state } = run([change('DATA', 1, 10)]);
    expectDlogError(() => decide(change('DATA', 2, 5), state), 'LSN_NOT_INCREASING');
  });

  it('is idempotent: redelivering the same changes and syncs records nothing and leaves the state equal', () => {
    const commands = [change('DATA', 1, 1), change('ASSO', 50, 2), sync(3), change('DATA', 4, 4)];
    const once = run(commands);
    const twice = run(commands, once.state);
    expect(twice.events).toEqual([]);
    expect(dlogStateToJSON(twice.state)).toEqual(dlogStateToJSON(once.state));
  });

  it('is idempotent in evolve for a repeated Drop/Return event', () => {
    const { state, events } = run([change('DATA', 1, 1), sync(2), capture('a', 2), drop('a')]);
    const dropped = events[events.length - 1];
    expect(dlogStateToJSON(evolve(state, dropped))).toEqual(dlogStateToJSON(state));
  });
});

describe('DLOG decider: capture at a save start sync', () => {
  it('given changes before and after sync s, when a save captures at s, then it takes exactly those at or below s', () => {
    const { state, events } = run([change('DATA', 1, 1), change('DATA', 2, 2), sync(3), change('DATA', 3, 4), change('DATA', 1, 5), capture('save-1', 3)]);
    expect(events[events.length - 1]).toMatchObject({ type: 'DlogCaptured', correlationId: 'save-1', syncLsn: 3 });
    expect(state.pending?.exact).toBe(true);
    expect(state.pending && rabns(state.pending.blocks.DATA)).toEqual([1, 2]);
    // block 1 changed again after s: it stays live for the next delta, as does block 3
    expect(rabns(liveBlocks(state).DATA)).toEqual([1, 3]);
  });

  it('when a sync was not observed yet, then the capture waits for it and is taken once the stream reaches it', () => {
    const { state, events } = run([change('DATA', 1, 1), capture('a', 3)]);
    expect(events[events.length - 1]).toEqual({ type: 'DlogCaptureAwaited', dbid: 1, correlationId: 'a', syncLsn: 3 });
    expect(decide({ type: 'ResumeCaptures' }, state)).toEqual([]);
    const later = run([change('DATA', 2, 2), sync(3), { type: 'ResumeCaptures' }], state);
    expect(later.events[later.events.length - 1]).toMatchObject({ type: 'DlogCaptured', correlationId: 'a', syncLsn: 3 });
    expect(later.state.awaiting).toEqual([]);
    expect(rabns(later.state.pending!.blocks.DATA)).toEqual([1, 2]);
  });

  it('when the save ends before its sync was reached, then the waiting capture is withdrawn', () => {
    const { state, events } = run([change('DATA', 1, 1), capture('a', 3), giveBack('a'), sync(3), { type: 'ResumeCaptures' }]);
    expect(events.map((e) => e.type)).toEqual(['DlogRecorded', 'DlogCaptureAwaited', 'DlogCaptureWithdrawn', 'DlogSyncRecorded']);
    expect(state.pending).toBeNull();
  });

  it('given a pending capture, when another save captures, then SAVE_IN_PROGRESS; the same capture again is a no-op', () => {
    const { state } = run([change('DATA', 1, 1), sync(2), capture('a', 2), change('DATA', 5, 3), sync(4)]);
    expectDlogError(() => decide(capture('b', 4), state), 'SAVE_IN_PROGRESS');
    expect(decide(capture('a', 2), state)).toEqual([]);
  });

  it('given a capture at an LSN that is not a sync boundary, then the straddling blocks are captured AND kept live (never fewer)', () => {
    const { state, events } = run([change('DATA', 1, 1), change('DATA', 2, 5), sync(6), capture('a', 3)]);
    expect(events[events.length - 1]).toMatchObject({ type: 'DlogCaptured', correlationId: 'a' });
    expect(state.pending?.exact).toBe(false);
    expect(state.pending && rabns(state.pending.blocks.DATA)).toEqual([1, 2]);
    expect(rabns(liveBlocks(state).DATA)).toEqual([1, 2]);
  });
});

describe('DLOG decider: save completes or fails', () => {
  const upToCapture = [change('DATA', 1, 1), change('ASSO', 70, 2), sync(3), capture('a', 3), change('DATA', 9, 4)];

  it('given a captured set, when the save completes, then the set is dropped and later changes stay', () => {
    const { state, events } = run([...upToCapture, drop('a')]);
    expect(events[events.length - 1]).toEqual({ type: 'DlogDropped', dbid: 1, correlationId: 'a' });
    expect(state.pending).toBeNull();
    expect(rabns(liveBlocks(state).DATA)).toEqual([9]);
    expect(rabns(liveBlocks(state).ASSO)).toEqual([]);
    // a capture at a sync before the completed one is refused
    expectDlogError(() => decide(capture('b', 2), state), 'SYNC_BEFORE_LAST_SAVE');
  });

  it('fail returns the captured set: the next delta still holds every change', () => {
    const { state, events } = run([...upToCapture, giveBack('a'), sync(5), capture('b', 5)]);
    expect(events.map((e) => e.type)).toContain('DlogReturned');
    expect(state.pending?.correlationId).toBe('b');
    expect(rabns(state.pending!.blocks.DATA)).toEqual([1, 9]);
    expect(rabns(state.pending!.blocks.ASSO)).toEqual([70]);
    expect(state.pending!.exact).toBe(true);
  });

  it('fail returns the utility marks too', () => {
    const { state } = run([
      change('DATA', 1, 1),
      utility(2, 2, ['DATA']),
      sync(3),
      capture('a', 3),
      giveBack('a'),
    ]);
    expect(liveMarks(state)).toEqual([{ file: 2, parts: ['DATA'], extents: [] }]);
  });

  it('repeated Drop is a no-op; Return after Drop is ILLEGAL_STATE; an unknown save or a repeated capture changes nothing', () => {
    const { state } = run([...upToCapture, drop('a')]);
    expect(decide(drop('a'), state)).toEqual([]);
    expectDlogError(() => decide(giveBack('a'), state), 'ILLEGAL_STATE');
    expect(decide(drop('zzz'), state)).toEqual([]);
    expect(decide(capture('a', 3), state)).toEqual([]);
  });

  it('repeated Return is a no-op and does not double the state', () => {
    const { state } = run([...upToCapture, giveBack('a')]);
    expect(decide(giveBack('a'), state)).toEqual([]);
  });
});

describe('DLOG decider: utility marks', () => {
  it('given no marks, when a utility marks whole parts, then the file is marked with them', () => {
    const { state, events } = run([utility(1, 1, ['AC', 'DATA'])]);
    expect(events).toEqual([{ type: 'DlogRecorded', dbid: 1, lsn: 1, ranges: [], marks: [{ file: 1, parts: ['DATA', 'AC'], extents: [] }] }]);
    expect(liveMarks(state)).toEqual([{ file: 1, parts: ['DATA', 'AC'], extents: [] }]);
  });

  it('extents mark the whole index; the same marks again record no mark (a redelivery records nothing)', () => {
    const cmd = utility(1, 1, [], [{ part: 'DATA', from: 5, to: 8 }]);
    const { state } = run([cmd]);
    expect(liveMarks(state)).toEqual([{ file: 1, parts: ['INDEX'], extents: [{ part: 'DATA', from: 5, to: 8 }] }]);
    expect(decide(cmd, state)).toEqual([]);
    expect(decide(utility(2, 1, [], [{ part: 'DATA', from: 5, to: 8 }]), state)).toEqual([{ type: 'DlogRecorded', dbid: 1, lsn: 2, ranges: [], marks: [] }]);
  });

  it('when the extension is full, then extents compress into wider ones: more blocks, never fewer', () => {
    const cmds = [10, 20, 22, 60].map((from, i) => utility(i + 1, 1, [], [{ part: 'DATA', from, to: from }]));
    const { state } = run(cmds, fresh({ extensionCapacity: 3 }));
    expect(liveMarks(state)[0].extents).toEqual([
      { part: 'DATA', from: 10, to: 10 },
      { part: 'DATA', from: 20, to: 22 },
      { part: 'DATA', from: 60, to: 60 },
    ]);
  });

  it('rejects an unknown file, an extent outside the file, and an empty mark', () => {
    expectDlogError(() => decide(utility(1, 9, ['DATA']), fresh()), 'VALIDATION');
    expectDlogError(() => decide(utility(1, 1, [], [{ part: 'DATA', from: 99, to: 101 }]), fresh()), 'VALIDATION');
    expectDlogError(() => decide(utility(1, 1, []), fresh()), 'VALIDATION');
  });
});

describe('blocks to save for a delta', () => {
  it('= captured DLOG blocks + utility-marked blocks + admin blocks, sorted by (area, RABN), no duplicates', () => {
    const { state } = run([
      change('DATA', 150, 1),
      change('ASSO', 3, 2),
      change('ASSO', 90, 3),
      utility(4, 1, ['AC']),
      utility(5, 2, [], [{ part: 'DATA', from: 120, to: 122 }]),
      sync(6),
      capture('a', 6),
    ]);
    const ranges = blocksToSave(state.pending!, geometry);
    const list = [...addressesIn(ranges)].map((b) => `${b.area}:${b.rabn}`);
    const expected = [
      ...[1, 2, 3, 4, 5, 6].map((r) => `ASSO:${r}`), // admin (3 also changed: once)
      ...Array.from({ length: 11 }, (_, i) => `ASSO:${10 + i}`), // file 1 AC
      ...Array.from({ length: 10 }, (_, i) => `ASSO:${51 + i}`), // file 2 INDEX (implied by its extents)
      'ASSO:90',
      'DATA:120',
      'DATA:121',
      'DATA:122',
      'DATA:150',
    ];
    expect(list).toEqual(expected);
    // the capture event carries exactly these ranges: the save writer reads nothing else
    const captured = run([{ type: 'RecordChanges', changes: [] }], state).state;
    expect(captured.pending).toBe(state.pending);
  });

  it('the DlogCaptured event carries the blocks to save', () => {
    const { events } = run([change('DATA', 150, 1), utility(2, 1, ['AC']), sync(3), capture('a', 3)]);
    const cap = events[events.length - 1] as Extract<DlogEvent, { type: 'DlogCaptured' }>;
    expect(cap.ranges).toEqual([
      { area: 'ASSO', from: 1, to: 6 },
      { area: 'ASSO', from: 10, to: 20 },
      { area: 'DATA', from: 150, to: 150 },
    ]);
    expect(cap.marks).toEqual([{ file: 1, parts: ['AC'], extents: [] }]);
  });

  it('refuses marks of a file the geometry does not know', () => {
    const { state } = run([change('DATA', 1, 1), utility(2, 2, ['DATA']), sync(3), capture('a', 3)]);
    const shrunk: Geometry = { ...geometry, files: [geometry.files[0]] };
    expectDlogError(() => blocksToSave(state.pending!, shrunk), 'VALIDATION');
  });
});

describe('segments and snapshots', () => {
  it('given more syncs than maxSegments, captures stay conservative: never fewer blocks', () => {
    const cmds: DlogCommand[] = [];
    let lsn = 0;
    for (let i = 1; i <= 10; i++) {
      cmds.push(change('DATA', i, ++lsn), sync(++lsn));
    }
    const { state } = run([...cmds, capture('a', 10)], fresh({ maxSegments: 2 }));
    const captured = rabns(state.pending!.blocks.DATA);
    for (const r of [1, 2, 3, 4, 5]) expect(captured).toContain(r); // changed at or below LSN 10
    const everything = new Set([...captured, ...rabns(liveBlocks(state).DATA)]);
    expect([...everything].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a snapshot round-trips, and a damaged one is refused with CORRUPT_DATA', () => {
    const { state } = run([change('DATA', 1, 1), utility(2, 1, ['DATA']), sync(3), capture('a', 3), change('ASSO', 8, 4), capture('b', 9)].slice(0, 5));
    const json = JSON.parse(JSON.stringify(dlogStateToJSON(state)));
    const back = dlogStateFromJSON(json);
    expect(dlogStateToJSON(back)).toEqual(json);
    expect(decide(change('ASSO', 9, 5), back)).toEqual(decide(change('ASSO', 9, 5), state));
    expectDlogError(() => dlogStateFromJSON({ ...json, lastLsn: -4 }), 'CORRUPT_DATA');
  });
});

describe('DLOG decider: utility marks are cut at sync points like blocks', () => {
  it('a utility change after the save\'s start sync stays live for the next delta; one before it is captured', () => {
    const { state, events } = run([utility(1, 1, ['AC']), sync(2), utility(3, 2, ['DATA']), capture('a', 2)]);
    const cap = events[events.length - 1] as Extract<DlogEvent, { type: 'DlogCaptured' }>;
    expect(cap.marks).toEqual([{ file: 1, parts: ['AC'], extents: [] }]);
    expect(cap.ranges).toContainEqual({ area: 'ASSO', from: 10, to: 20 }); // file 1 AC
    expect(cap.ranges.some((r) => r.area === 'DATA' && r.from <= 150 && r.to >= 101)).toBe(false); // file 2 DATA not yet
    expect(liveMarks(state)).toEqual([{ file: 2, parts: ['DATA'], extents: [] }]);
    // the save completes: the next capture holds file 2's data storage
    const next = run([drop('a'), sync(4), capture('b', 4)], state);
    const cap2 = next.events[next.events.length - 1] as Extract<DlogEvent, { type: 'DlogCaptured' }>;
    expect(cap2.marks).toEqual([{ file: 2, parts: ['DATA'], extents: [] }]);
    expect(cap2.ranges).toContainEqual({ area: 'DATA', from: 101, to: 200 });
  });

  it('the same mark again after a sync is recorded again (it must reach the next delta too)', () => {
    const { state } = run([utility(1, 1, ['AC']), sync(2)]);
    expect(decide(utility(3, 1, ['AC']), state)).toEqual([{ type: 'DlogRecorded', dbid: 1, lsn: 3, ranges: [], marks: [{ file: 1, parts: ['AC'], extents: [] }] }]);
  });
});
