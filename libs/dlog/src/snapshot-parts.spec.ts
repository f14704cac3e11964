import { sampleGeometry } from '@deltaflow/blocks';
import { evolve, initialState, type DlogState } from './dlog';
import { DLOG_SNAPSHOT_PART_BYTES, DlogSnapshotAssembler, joinDlogSnapshot, splitDlogSnapshot, type DlogSnapshotPart } from './snapshot-parts';
import { dlogStateToJSON } from './snapshot';

/** a small deterministic PRNG, so a failing seed can be replayed */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** a random DLOG state: scattered DATA and ASSO blocks over several recorded batches and syncs */
function randomState(seed: number): DlogState {
  const rnd = prng(seed);
  const g = sampleGeometry();
  let st = initialState(7, g);
  let lsn = 0;
  const batches = 1 + Math.floor(rnd() * 6);
  for (let b = 0; b < batches; b++) {
    const ranges = Array.from({ length: Math.floor(rnd() * 60) }, () => {
      const area = rnd() < 0.3 ? ('ASSO' as const) : ('DATA' as const);
      const max = area === 'ASSO' ? g.asso.blocks : g.data.blocks;
      const from = 1 + Math.floor(rnd() * max);
      return { area, from, to: Math.min(max, from + Math.floor(rnd() * 3)) };
    });
    lsn += 1 + Math.floor(rnd() * 5);
    st = evolve(st, { type: 'DlogRecorded', dbid: 7, lsn, ranges, marks: [] });
    if (rnd() < 0.5) st = evolve(st, { type: 'DlogSyncRecorded', dbid: 7, lsn: ++lsn, syncId: `s${b}` });
  }
  return st;
}

const json = (s: DlogState) => JSON.stringify(dlogStateToJSON(s));
const records = (parts: readonly DlogSnapshotPart[]) => parts.map((p) => ({ dbid: 7, ...p }));

describe('DLOG snapshots in parts', () => {
  it('property: a random DLOG state, split into parts of a random size, joins back to the same state, in any order', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = prng(seed * 7919);
      const st = randomState(seed);
      const size = 1 + Math.floor(rnd() * 400);
      const parts = splitDlogSnapshot(st, `snap-${seed}`, size);
      expect(parts.every((p) => p.state.length <= size && p.parts === parts.length)).toBe(true);
      expect(json(joinDlogSnapshot(parts))).toBe(json(st));
      const shuffled = [...parts].sort(() => rnd() - 0.5);
      expect(json(joinDlogSnapshot(shuffled))).toBe(json(st));
      // the assembler gives it on the last part only, never before
      const a = new DlogSnapshotAssembler();
      const got = records(parts).map((r) => a.add(r));
      expect(got.slice(0, -1).every((x) => x === null)).toBe(true);
      expect(json(got[got.length - 1]!)).toBe(json(st));
    }
  });

  it('property: a set missing any part is never used (the assembler gives nothing, join refuses it)', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const rnd = prng(seed);
      const parts = splitDlogSnapshot(randomState(seed), `snap-${seed}`, 1 + Math.floor(rnd() * 100));
      if (parts.length < 2) continue;
      const drop = Math.floor(rnd() * parts.length);
      const kept = parts.filter((p) => p.part !== drop);
      const a = new DlogSnapshotAssembler();
      expect(records(kept).map((r) => a.add(r))).toEqual(kept.map(() => null));
      expect(() => joinDlogSnapshot(kept)).toThrow(new RegExp(`part\\(s\\) ${drop} of ${parts.length} missing`));
    }
  });

  it('a crash mid-publish: the parts of the cut-short snapshot are dropped by the next snapshot or the next event, and the earlier complete one stays usable', () => {
    const older = randomState(1);
    const newer = randomState(2);
    const a = new DlogSnapshotAssembler();
    const cutShort = splitDlogSnapshot(newer, 'B', 50).slice(0, 2);
    for (const r of records(cutShort)) expect(a.add(r)).toBeNull();
    expect(a.incomplete()).toEqual([{ dbid: 7, snapshotId: 'B', have: 2, parts: expect.any(Number) }]);
    // the next round (a new id) starts afresh
    const next = records(splitDlogSnapshot(older, 'C', 50));
    const got = next.map((r) => a.add(r));
    expect(json(got[got.length - 1]!)).toBe(json(older));
    // a DLOG event of the database in between drops what was gathered: the rest of B never completes it
    const b = new DlogSnapshotAssembler();
    const all = records(splitDlogSnapshot(newer, 'B', 50));
    b.add(all[0]);
    b.interrupt(7);
    expect(all.slice(1).map((r) => b.add(r))).toEqual(all.slice(1).map(() => null));
  });

  it('takes repeated parts (a redelivery) once', () => {
    const st = randomState(3);
    const parts = records(splitDlogSnapshot(st, 'R', 40));
    const a = new DlogSnapshotAssembler();
    expect(a.add(parts[0])).toBeNull();
    expect(a.add(parts[0])).toBeNull();
    const out = parts.slice(1).map((r) => a.add(r));
    expect(json(out[out.length - 1]!)).toBe(json(st));
  });

  it('still reads a single-record snapshot of the old format (no snapshotId)', () => {
    const st = randomState(4);
    const a = new DlogSnapshotAssembler();
    expect(json(a.add({ dbid: 7, state: Buffer.from(json(st)) })!)).toBe(json(st));
  });

  it('refuses malformed parts with a specific error', () => {
    const a = new DlogSnapshotAssembler();
    expect(() => a.add({ dbid: 7, snapshotId: 'x', state: Buffer.from('{}') })).toThrow(/part and parts must be set/);
    expect(() => a.add({ dbid: 7, snapshotId: 'x', part: 2, parts: 2, state: Buffer.from('{}') })).toThrow(/part must be in 0..1, got 2/);
    expect(() => a.add({ dbid: 7, state: Buffer.from('{not json') })).toThrow(/not JSON/);
    expect(() => splitDlogSnapshot(randomState(5), 'x', 0)).toThrow(/maxPartBytes/);
    const p = splitDlogSnapshot(randomState(5), 'x', 30);
    expect(() => joinDlogSnapshot([...p, { ...p[0], state: Buffer.from('different') }])).toThrow(/part 0 comes twice with different bytes/);
    expect(DLOG_SNAPSHOT_PART_BYTES).toBeLessThan(900 * 1024);
  });
});
