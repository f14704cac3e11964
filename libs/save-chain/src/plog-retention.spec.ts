import { plogRetention } from './plog-retention';

const syncs = [
  { lsn: 100, offset: 10 },
  { lsn: 200, offset: 20 },
  { lsn: 300, offset: 30 },
  { lsn: 400, offset: 40 },
];

describe('plogRetention', () => {
  it('keeps the PLOG since the start of the keepSaves-th last save, cut at the sync at or below it', () => {
    const d = plogRetention({ keepSaves: 2, applied: 100, logStart: 0, databases: [{ dbid: 1, saveStarts: [100, 250, 400], syncs }] });
    expect(d.cutBelow).toBe(20); // second last save started at 250: the sync at 200 is the cut
    expect(d.databases[0]).toMatchObject({ dbid: 1, keepFrom: 20 });
  });

  it('never cuts at or above what the DSIM builder has not stored yet', () => {
    expect(plogRetention({ keepSaves: 1, applied: 25, logStart: 0, databases: [{ dbid: 1, saveStarts: [400], syncs }] }).cutBelow).toBe(25);
  });

  it('waits while a database has fewer completed saves than the policy keeps, and says so', () => {
    const d = plogRetention({
      keepSaves: 2,
      applied: 100,
      logStart: 0,
      databases: [
        { dbid: 1, saveStarts: [100, 400], syncs },
        { dbid: 2, saveStarts: [300], syncs: [{ lsn: 300, offset: 35 }] },
      ],
    });
    expect(d.cutBelow).toBeNull();
    expect(d.databases[1].why).toMatch(/1 completed save\(s\), the policy keeps the PLOG since the start of the last 2/);
  });

  it('waits when no sync point at or below the save start is known (it started before the tracked offsets)', () => {
    const d = plogRetention({ keepSaves: 1, applied: 100, logStart: 0, databases: [{ dbid: 1, saveStarts: [50], syncs }] });
    expect(d.cutBelow).toBeNull();
    expect(d.databases[0].why).toMatch(/no PLOG sync point known at or below LSN 50/);
  });

  it('takes the lowest database of a shared partition, and nothing when the log already starts there', () => {
    const input = {
      keepSaves: 1,
      applied: 100,
      databases: [
        { dbid: 1, saveStarts: [400], syncs },
        { dbid: 2, saveStarts: [210], syncs: [{ lsn: 205, offset: 22 }] },
      ],
    };
    expect(plogRetention({ ...input, logStart: 0 }).cutBelow).toBe(22);
    expect(plogRetention({ ...input, logStart: 22 }).cutBelow).toBeNull();
  });

  it('keeps everything for a partition with no database known, and refuses a policy below one save', () => {
    expect(plogRetention({ keepSaves: 1, applied: 100, logStart: 0, databases: [] }).cutBelow).toBeNull();
    expect(() => plogRetention({ keepSaves: 0, applied: 100, logStart: 0, databases: [] })).toThrow(/keepSaves must be an integer >= 1/);
  });
});
