import { dlogRetention } from './dlog-retention';

const base = { partition: 2, logStart: 0, end: 500, snapshotAt: null, snapshotEvery: 100, readers: [], unplaced: [] };

describe('dlogRetention', () => {
  it('asks for a round of snapshots once snapshotEvery records were appended, and cuts nothing before one exists', () => {
    expect(dlogRetention({ ...base, end: 99 })).toMatchObject({ snapshot: false, cutBelow: null });
    expect(dlogRetention(base)).toMatchObject({ snapshot: true, cutBelow: null, why: 'no snapshot of partition 2 taken yet' });
  });

  it('cuts below the first snapshot of the last round; the next round comes snapshotEvery records after it', () => {
    expect(dlogRetention({ ...base, snapshotAt: 450 })).toMatchObject({ snapshot: false, cutBelow: 450, waiting: [] });
    expect(dlogRetention({ ...base, snapshotAt: 400 })).toMatchObject({ snapshot: true, cutBelow: 400 });
    expect(dlogRetention({ ...base, logStart: 450, snapshotAt: 450 })).toMatchObject({ snapshot: false, cutBelow: null });
  });

  it('waits for a live reader behind the snapshot (the catalog, a save writer tail), naming it', () => {
    const d = dlogRetention({ ...base, snapshotAt: 450, rounds: [100, 300, 450], readers: [{ group: 'catalog', committed: 120 }] });
    // at the last complete round at or below the reader, not at the reader: the log must start with snapshots
    expect(d.cutBelow).toBe(100);
    expect(d.waiting).toEqual([{ holder: 'group catalog', heldBack: 330, position: 120, why: expect.stringMatching(/reader catalog is at offset 120/) }]);
    expect(dlogRetention({ ...base, snapshotAt: 450, readers: [{ group: 'new', committed: null }] }).cutBelow).toBeNull();
  });

  it('never cuts between rounds: without a complete round below a lagging reader, nothing goes', () => {
    expect(dlogRetention({ ...base, snapshotAt: 450, readers: [{ group: 'catalog', committed: 120 }] })).toMatchObject({ cutBelow: null, waiting: [{ holder: 'group catalog' }] });
    expect(dlogRetention({ ...base, snapshotAt: 450, rounds: [300, 450], readers: [{ group: 'catalog', committed: 299 }] }).cutBelow).toBeNull();
    expect(dlogRetention({ ...base, snapshotAt: 450, rounds: [300, 450], readers: [{ group: 'catalog', committed: 300 }] }).cutBelow).toBe(300);
    expect(dlogRetention({ ...base, logStart: 300, snapshotAt: 450, rounds: [300, 450], readers: [{ group: 'catalog', committed: 449 }] }).cutBelow).toBeNull();
    expect(dlogRetention({ ...base, logStart: 300, snapshotAt: 450, rounds: [300, 450] }).cutBelow).toBe(450);
  });

  it('takes no snapshot and cuts nothing while a protected database has no known partition', () => {
    expect(dlogRetention({ ...base, snapshotAt: 450, unplaced: [4] })).toEqual({ snapshot: false, cutBelow: null, waiting: [], why: 'the partition of database(s) 4 is not known yet' });
  });

  it('refuses a policy that is not one', () => {
    expect(() => dlogRetention({ ...base, snapshotEvery: 0 })).toThrow(/snapshotEvery must be an integer >= 1/);
  });
});
