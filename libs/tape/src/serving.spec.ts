import { servingVerdict } from './serving';
import { foldSov, initialSovState, sovDecider, type SovCommand, type SovState } from './streams';

const T = 1_800_000_000_000;
const defaults = { minDevices: 1, maxDevices: 2, volumeCapacity: 1 << 20, runSuperblocks: 16, checkpointEveryBytes: 1 << 20, compression: 'none', encryption: 'none' } as const;

function run(state: SovState, c: SovCommand) {
  const events = sovDecider.decide(c, state);
  foldSov(state, events);
  return events.map((e) => e.type);
}

describe('serving a stream (one writer per stream across instances)', () => {
  it('serves a stream nobody served, waits for a live holder, serves once it released or left the group', () => {
    const state = initialSovState();
    run(state, { type: 'DefineStream', stream: 's1', settings: {}, defaults, at: T });
    expect(servingVerdict(state, 's1', 'b', new Set(['a', 'b']))).toEqual({ serve: true });
    expect(run(state, { type: 'ServeStream', stream: 's1', instance: 'a', at: T })).toEqual(['StreamServed']);
    expect(run(state, { type: 'ServeStream', stream: 's1', instance: 'a', at: T })).toEqual([]); // again: nothing new
    expect(servingVerdict(state, 's1', 'b', new Set(['a', 'b']))).toEqual({ serve: false, holder: 'a' });
    expect(servingVerdict(state, 's1', 'a', new Set(['a', 'b']))).toEqual({ serve: true }); // its own
    expect(servingVerdict(state, 's1', 'b', new Set(['b']))).toEqual({ serve: true }); // a is gone (killed)
    expect(run(state, { type: 'ReleaseStream', stream: 's1', instance: 'b', at: T })).toEqual([]); // b never served it
    expect(run(state, { type: 'ReleaseStream', stream: 's1', instance: 'a', at: T })).toEqual(['StreamReleased']);
    expect(state.streams.get('s1')!.servedBy).toBeNull();
    expect(servingVerdict(state, 's1', 'b', new Set(['a', 'b']))).toEqual({ serve: true });
  });

  it('a late StreamReleased of an earlier server does not clear the current one', () => {
    const state = initialSovState();
    run(state, { type: 'DefineStream', stream: 's1', settings: {}, defaults, at: T });
    foldSov(state, [
      { type: 'StreamServed', stream: 's1', instance: 'a', occurredAt: T },
      { type: 'StreamServed', stream: 's1', instance: 'b', occurredAt: T + 1 },
      { type: 'StreamReleased', stream: 's1', instance: 'a', occurredAt: T + 2 },
    ]);
    expect(state.streams.get('s1')!.servedBy).toBe('b');
    expect(servingVerdict(state, 's1', 'c', new Set(['b', 'c']))).toEqual({ serve: false, holder: 'b' });
  });

  it('refuses to serve an unknown stream', () => {
    expect(() => sovDecider.decide({ type: 'ServeStream', stream: 'nope', instance: 'a', at: T }, initialSovState())).toThrow(/nope/);
  });
});
