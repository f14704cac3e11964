import * as fc from 'fast-check';
import { planIndices } from './co-partitioned-assigner';

const sizes = (p: Map<string, number[]>) => [...p.values()].map((v) => v.length);

describe('co-partitioned assignment plan', () => {
  it('gives every index to exactly one member, balanced within one, for any members and claims', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 9 }),
        fc.array(fc.array(fc.integer({ min: -2, max: 45 }), { maxLength: 12 }), { maxLength: 9 }),
        (count, ids, owned) => {
          const members = ids.map((memberId, k) => ({ memberId, owned: owned[k] ?? [] }));
          const plan = planIndices(members, count);
          const all = [...plan.values()].flat().sort((a, b) => a - b);
          expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
          const s = sizes(plan);
          expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
          // the same input in another order gives the same plan
          expect(planIndices([...members].reverse(), count)).toEqual(plan);
        },
      ),
    );
  });

  it('is sticky: a member joining takes indices only from the others; one leaving moves only its own', () => {
    const two = planIndices([{ memberId: 'a', owned: [] }, { memberId: 'b', owned: [] }], 8);
    expect(sizes(two)).toEqual([4, 4]);
    const three = planIndices([{ memberId: 'a', owned: two.get('a')! }, { memberId: 'b', owned: two.get('b')! }, { memberId: 'c', owned: [] }], 8);
    for (const m of ['a', 'b']) for (const i of three.get(m)!) expect(two.get(m)).toContain(i);
    expect(three.get('c')!.length).toBe(2);
    const back = planIndices([{ memberId: 'a', owned: three.get('a')! }, { memberId: 'c', owned: three.get('c')! }], 8);
    for (const m of ['a', 'c']) for (const i of three.get(m)!) expect(back.get(m)).toContain(i);
  });

  it('more members than indices: the extra members idle', () => {
    const plan = planIndices([{ memberId: 'a', owned: [0] }, { memberId: 'b', owned: [] }, { memberId: 'c', owned: [] }], 1);
    expect(plan.get('a')).toEqual([0]);
    expect(plan.get('b')).toEqual([]);
    expect(plan.get('c')).toEqual([]);
  });
});
