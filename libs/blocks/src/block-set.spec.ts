import fc from 'fast-check';
import { BlockSet } from './block-set';
import { BlocksError } from './errors';

// RABNs cluster around page edges (4096) so that page-crossing logic is exercised.
const rabnArb = fc.oneof(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 4090, max: 4100 }), fc.integer({ min: 8185, max: 8200 }));
const rangeArb = fc
  .tuple(rabnArb, fc.integer({ min: 0, max: 9000 }))
  .map(([from, len]) => ({ from, to: from + len }));

function model(rabns: Iterable<number>): number[] {
  return [...new Set(rabns)].sort((a, b) => a - b);
}

describe('BlockSet', () => {
  it('adds, answers membership and iterates sorted like a reference Set', () => {
    fc.assert(
      fc.property(fc.array(rabnArb, { maxLength: 300 }), fc.array(rabnArb, { maxLength: 50 }), (adds, probes) => {
        const s = BlockSet.of(adds);
        const ref = model(adds);
        expect([...s]).toEqual(ref);
        expect(s.size).toBe(ref.length);
        for (const p of probes) expect(s.has(p)).toBe(ref.includes(p));
        expect(s.max()).toBe(ref.length ? ref[ref.length - 1] : 0);
      }),
    );
  });

  it('withRanges sets exactly the RABNs of the ranges, across page and word edges', () => {
    fc.assert(
      fc.property(fc.array(rangeArb, { maxLength: 6 }), (ranges) => {
        const s = BlockSet.fromRanges(ranges);
        const ref: number[] = [];
        for (const { from, to } of ranges) for (let r = from; r <= to; r++) ref.push(r);
        expect([...s]).toEqual(model(ref));
        expect(s.size).toBe(model(ref).length);
      }),
      { numRuns: 60 },
    );
  });

  it('union equals the set of both, and never changes its operands', () => {
    fc.assert(
      fc.property(fc.array(rabnArb, { maxLength: 200 }), fc.array(rabnArb, { maxLength: 200 }), (a, b) => {
        const sa = BlockSet.of(a);
        const sb = BlockSet.of(b);
        const u = sa.union(sb);
        expect([...u]).toEqual(model([...a, ...b]));
        expect(u.size).toBe(model([...a, ...b]).length);
        expect([...sa]).toEqual(model(a));
        expect([...sb]).toEqual(model(b));
        expect(sa.isSubsetOf(u)).toBe(true);
        expect(sb.isSubsetOf(u)).toBe(true);
        // adding to the union afterwards must not leak into a shared page of an operand
        const more = u.withAll([...b.map((r) => r + 1), 4097]);
        expect([...sb]).toEqual(model(b));
        expect(more.size).toBeGreaterThanOrEqual(u.size);
      }),
    );
  });

  it('copy-on-write: withAll leaves the original set unchanged', () => {
    const a = BlockSet.of([1, 2, 3]);
    const b = a.withAll([4, 5000]);
    expect([...a]).toEqual([1, 2, 3]);
    expect([...b]).toEqual([1, 2, 3, 4, 5000]);
    expect(a.with(2)).toBe(a);
  });

  it('round-trips through its JSON range form, which is sorted and maximal', () => {
    fc.assert(
      fc.property(fc.array(rabnArb, { maxLength: 300 }), (adds) => {
        const s = BlockSet.of(adds);
        const json = JSON.parse(JSON.stringify(s)) as number[];
        for (let i = 2; i < json.length; i += 2) expect(json[i]).toBeGreaterThan(json[i - 1] + 1);
        expect(BlockSet.fromJSON(json).equals(s)).toBe(true);
      }),
    );
    expect(JSON.stringify(BlockSet.of([1, 2, 3, 7, 9, 10]))).toBe('[1,3,7,7,9,10]');
  });

  it('rejects invalid RABNs and malformed JSON with specific codes', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      expect(() => BlockSet.of([bad])).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    }
    expect(() => BlockSet.fromRanges([{ from: 5, to: 4 }])).toThrow(BlocksError);
    for (const bad of [{}, [1], [3, 2], [1, 2, 3, 4], [1, 5, 4, 8], ['1', 2]]) {
      expect(() => BlockSet.fromJSON(bad)).toThrow(expect.objectContaining({ code: 'CORRUPT_DATA' }));
    }
  });

  it('stays cheap for a full 1 GiB area (262,144 blocks)', () => {
    const all = BlockSet.fromRanges([{ from: 1, to: 262_144 }]);
    expect(all.size).toBe(262_144);
    expect(all.toJSON()).toEqual([1, 262_144]);
    const odd = BlockSet.of(Array.from({ length: 131_072 }, (_, i) => 2 * i + 1));
    expect(odd.size).toBe(131_072);
    expect(odd.union(all).equals(all)).toBe(true);
  });
});
