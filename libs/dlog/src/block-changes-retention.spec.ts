import { blockChangesRetention } from './block-changes-retention';

const base = { partition: 3, logStart: 100, end: 1000, logged: 900, readers: [], runningSaves: [] };

describe('blockChangesRetention', () => {
  it('cuts below what the change logger has committed when nobody else reads the partition', () => {
    const d = blockChangesRetention(base);
    expect(d).toMatchObject({ cutBelow: 900, secured: 900, waiting: [] });
    expect(d.why).toMatch(/logged partition 3 through offset 899/);
  });

  it('never cuts above the end, and not at all when nothing moved past the log start', () => {
    expect(blockChangesRetention({ ...base, logged: 1200 }).cutBelow).toBe(1000);
    expect(blockChangesRetention({ ...base, logged: 100 }).cutBelow).toBeNull();
    expect(blockChangesRetention({ ...base, logged: 50 }).cutBelow).toBeNull();
  });

  it('keeps everything while the change logger has committed nothing', () => {
    const d = blockChangesRetention({ ...base, logged: null });
    expect(d.cutBelow).toBeNull();
    expect(d.why).toMatch(/committed nothing on partition 3/);
  });

  it('waits for a lagging reader: the cut stops at its committed offset, and it is named with what it holds back', () => {
    const d = blockChangesRetention({ ...base, readers: [{ group: 'fast', committed: 950 }, { group: 'slow', committed: 400 }] });
    expect(d.cutBelow).toBe(400);
    expect(d.waiting).toEqual([{ holder: 'group slow', heldBack: 500, position: 400, why: expect.stringMatching(/reader slow is at offset 400, 500 record\(s\) behind what is secured/) }]);
    expect(d.why).toBe('waiting for group slow');
  });

  it('a reader at or below the log start, or with nothing committed, holds the whole partition', () => {
    expect(blockChangesRetention({ ...base, readers: [{ group: 'r', committed: 20 }] })).toMatchObject({ cutBelow: null, waiting: [{ holder: 'group r', heldBack: 800 }] });
    const none = blockChangesRetention({ ...base, readers: [{ group: 'new', committed: null }] });
    expect(none.cutBelow).toBeNull();
    expect(none.waiting[0].why).toMatch(/new has committed nothing on partition 3/);
  });

  it('waits while a save of a database of the partition is in progress', () => {
    const d = blockChangesRetention({ ...base, runningSaves: [{ dbid: 7, correlationId: 's-1' }] });
    expect(d.cutBelow).toBeNull();
    expect(d.waiting).toEqual([{ holder: 'save s-1', heldBack: 800, position: null, why: 'save s-1 of database 7 is in progress' }]);
  });

  it('a save seen running since an offset holds the cut there only: saves back to back still let the log be cut', () => {
    const d = blockChangesRetention({ ...base, runningSaves: [{ dbid: 7, correlationId: 's-1', from: 600 }, { dbid: 7, correlationId: 's-2', from: 750 }], readers: [{ group: 'tail', committed: 850 }] });
    expect(d.cutBelow).toBe(600);
    expect(d.waiting).toEqual([
      { holder: 'save s-1', heldBack: 300, position: 600, why: 'save s-1 of database 7 is in progress since offset 600' },
      { holder: 'save s-2', heldBack: 150, position: 750, why: 'save s-2 of database 7 is in progress since offset 750' },
      { holder: 'group tail', heldBack: 50, position: 850, why: 'reader tail is at offset 850, 50 record(s) behind what is secured' },
    ]);
    // a save seen before anything above the log start was secured holds it all; one seen at the head holds nothing
    expect(blockChangesRetention({ ...base, runningSaves: [{ dbid: 7, correlationId: 's-0', from: 50 }] }).cutBelow).toBeNull();
    expect(blockChangesRetention({ ...base, runningSaves: [{ dbid: 7, correlationId: 's-3', from: 900 }] })).toMatchObject({ cutBelow: 900, waiting: [] });
  });

  it('refuses offsets that are not offsets', () => {
    expect(() => blockChangesRetention({ ...base, logStart: -1 })).toThrow(/logStart must be a non-negative integer/);
    expect(() => blockChangesRetention({ ...base, end: 50 })).toThrow(/end \(50\) is below logStart \(100\)/);
    expect(() => blockChangesRetention({ ...base, readers: [{ group: 'x', committed: 1.5 }] })).toThrow(/committed offset of x/);
  });
});
