import fc from 'fast-check';
import type { Extent } from '@deltaflow/blocks';
import { addUtilityMark, compressExtents, normalizeExtents, unionMarks } from './marks';

type MarkRange = Extent;

const partArb = fc.constantFrom<'DATA' | 'AC'>('DATA', 'AC');
const rangeArb: fc.Arbitrary<MarkRange> = fc
  .tuple(partArb, fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 40 }))
  .map(([part, from, len]) => ({ part, from, to: from + len }));

function members(ranges: readonly MarkRange[]): Set<string> {
  const s = new Set<string>();
  for (const r of ranges) for (let i = r.from; i <= r.to; i++) s.add(`${r.part}:${i}`);
  return s;
}

describe('extension compression', () => {
  it('never loses a RABN, respects the capacity, and keeps ranges sorted and disjoint', () => {
    fc.assert(
      fc.property(fc.array(rangeArb, { maxLength: 120 }), fc.integer({ min: 2, max: 70 }), (ranges, capacity) => {
        const out = compressExtents(ranges, capacity);
        expect(out.length).toBeLessThanOrEqual(capacity);
        const before = members(ranges);
        const after = members(out);
        for (const m of before) expect(after.has(m)).toBe(true);
        for (let i = 1; i < out.length; i++) {
          if (out[i].part === out[i - 1].part) expect(out[i].from).toBeGreaterThan(out[i - 1].to + 1);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('merges the closest neighbours first', () => {
    const out = compressExtents(
      [
        { part: 'DATA', from: 1, to: 2 },
        { part: 'DATA', from: 100, to: 101 },
        { part: 'DATA', from: 104, to: 105 },
      ],
      2,
    );
    expect(out).toEqual([
      { part: 'DATA', from: 1, to: 2 },
      { part: 'DATA', from: 100, to: 105 },
    ]);
  });

  it('does not merge across parts', () => {
    const out = compressExtents(
      [
        { part: 'DATA', from: 1, to: 2 },
        { part: 'AC', from: 3, to: 4 },
      ],
      2,
    );
    expect(out).toHaveLength(2);
  });

  it('normalises adjacent and overlapping ranges', () => {
    expect(
      normalizeExtents([
        { part: 'AC', from: 5, to: 9 },
        { part: 'AC', from: 1, to: 4 },
        { part: 'AC', from: 8, to: 12 },
      ]),
    ).toEqual([{ part: 'AC', from: 1, to: 12 }]);
  });
});

describe('file marks', () => {
  it('a ranged mark always marks the whole index (ADALOD UPDATE)', () => {
    const m = addUtilityMark(undefined, 7, [], [{ part: 'DATA', from: 10, to: 20 }], 64);
    expect(m).toEqual({ file: 7, parts: ['INDEX'], extents: [{ part: 'DATA', from: 10, to: 20 }] });
  });

  it('a wholly-marked part absorbs its ranges', () => {
    const a = addUtilityMark(undefined, 7, [], [{ part: 'DATA', from: 10, to: 20 }, { part: 'AC', from: 1, to: 1 }], 64);
    const b = addUtilityMark(a, 7, ['DATA'], [], 64);
    expect(b).toEqual({ file: 7, parts: ['DATA', 'INDEX'], extents: [{ part: 'AC', from: 1, to: 1 }] });
  });

  it('unionMarks covers both inputs', () => {
    fc.assert(
      fc.property(fc.array(rangeArb, { maxLength: 30 }), fc.array(rangeArb, { maxLength: 30 }), (ra, rb) => {
        const a = [addUtilityMark(undefined, 1, [], ra, 8)];
        const b = [addUtilityMark(undefined, 1, [], rb, 8), addUtilityMark(undefined, 2, ['AC'], [], 8)];
        const u = unionMarks(a, b, 8);
        expect(u.map((m) => m.file)).toEqual([1, 2]);
        const got = members(u[0].extents);
        for (const m of members([...a[0].extents, ...b[0].extents])) expect(got.has(m)).toBe(true);
        expect(u[0].extents.length).toBeLessThanOrEqual(8);
      }),
      { numRuns: 50 },
    );
  });
});
