import { Assignments, type AssignmentChange } from './assignments';

const a = (parts: Record<string, number[]>) => new Map(Object.entries(parts));

describe('Assignments', () => {
  it('tells listeners what was gained and lost, once per change, in order', async () => {
    const seen: AssignmentChange[] = [];
    const as = new Assignments();
    as.listen((c) => void seen.push(c));
    await as.assign(a({ x: [0, 1], y: [0, 1] }));
    await as.assign(a({ y: [1, 0], x: [1, 0] })); // the same: nothing to do
    await as.assign(a({ x: [1, 2], y: [1, 2] }));
    expect(seen.map((c) => [[...c.gained], [...c.lost], c.generation])).toEqual([
      [[0, 1], [], 1],
      [[2], [0], 2],
    ]);
    expect([...as.indices()]).toEqual([1, 2]);
    expect(as.partitionsOf('x')).toEqual([1, 2]);
  });

  it('a listener that fails leaves the assignment unapplied: the same change is offered again', async () => {
    const as = new Assignments();
    let fail = true;
    const gained: number[][] = [];
    as.listen((c) => {
      gained.push([...c.gained]);
      if (fail) throw new Error('broker away');
    });
    await expect(as.assign(a({ x: [3] }))).rejects.toThrow('broker away');
    expect(as.assigned).toBe(false);
    fail = false;
    await as.assign(a({ x: [3] }));
    expect(gained).toEqual([[3], [3]]);
    expect(as.assigned).toBe(true);
  });

  it('assignments arriving during a slow rebuild are applied one after another', async () => {
    const as = new Assignments();
    const log: string[] = [];
    as.listen(async (c) => {
      log.push(`start ${c.generation}`);
      await new Promise((r) => setTimeout(r, 20));
      log.push(`end ${c.generation}`);
    });
    const first = as.assign(a({ x: [0] }));
    const second = as.assign(a({ x: [1] }));
    await Promise.all([first, second]);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
  });
});
