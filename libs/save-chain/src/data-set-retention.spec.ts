import type { Dsid } from '@deltaflow/dsid';
import { chainNeeds, dataSetRetention, type RetentionSave } from './data-set-retention';

const DAY = 86_400_000;
const NOW = 100 * DAY;
const dsid = (full: number, from: number, to = from, lineage = 'L1'): Dsid => ({ full, deltaFrom: from, deltaTo: to, timestamp: 1_700_000_000_000, lineage });

/** A save completed `age` days before NOW, in a directory. */
function save(id: string, d: Dsid, age: number, extra: Partial<RetentionSave> = {}): RetentionSave {
  return { id, dsid: d, kind: d.deltaTo === 0 ? 'full' : 'delta', completedAt: NOW - age * DAY, expirable: true, files: [id, `${id}.dsim`], ...extra };
}

const ids = (xs: ReadonlyArray<{ id: string }>) => xs.map((x) => x.id).sort();

/** Every kept or running delta still has its full save and every earlier delta of its chain. */
function assertNoBrokenChain(saves: readonly RetentionSave[], expired: ReadonlySet<string>): void {
  for (const k of saves) {
    if (expired.has(k.id) || k.expired) continue;
    for (const e of saves) if (chainNeeds(k, e) && !e.expired) expect({ kept: k.id, needs: e.id, expired: expired.has(e.id) }).toEqual({ kept: k.id, needs: e.id, expired: false });
  }
}

describe('dataSetRetention', () => {
  it('keeps everything when no retention is set, and says so', () => {
    const saves = [save('f1', dsid(1, 0), 50), save('d1', dsid(1, 1), 40)];
    const d = dataSetRetention({ policy: {}, saves, now: NOW });
    expect(d.expire).toEqual([]);
    expect(d.rule).toMatch(/no retention set/);
    expect(d.keep.map((k) => k.why)).toEqual(['no retention set: everything is kept', 'no retention set: everything is kept']);
  });

  it('by count: keeps the last K saves and the chain they need, expires whole older chains with their DSIM files', () => {
    const saves = [
      save('f1', dsid(1, 0), 10),
      save('d1', dsid(1, 1), 9),
      save('d2', dsid(1, 2), 8),
      save('f2', dsid(2, 0), 7),
      save('d3', dsid(2, 1), 6),
      save('d4', dsid(2, 2), 5),
    ];
    const d = dataSetRetention({ policy: { keepSaves: 2 }, saves, now: NOW });
    expect(ids(d.expire)).toEqual(['d1', 'd2', 'f1']);
    expect(d.expire.find((e) => e.id === 'd1')?.files).toEqual(['d1', 'd1.dsim']);
    const why = Object.fromEntries(d.keep.map((k) => [k.id, k.why]));
    expect(why.d4).toBe('one of the last 2 saves');
    expect(why.f2).toMatch(/^needed by the chain of 2\/[12]\/.*@L1 \(d[34]\)$/);
  });

  it('a kept delta keeps its full save and every earlier delta, however old', () => {
    const saves = [save('f1', dsid(1, 0), 90), save('d1', dsid(1, 1), 80), save('d2', dsid(1, 2), 70), save('d3', dsid(1, 3), 1)];
    const d = dataSetRetention({ policy: { keepDays: 7 }, saves, now: NOW });
    expect(d.expire).toEqual([]);
    expect(d.keep.find((k) => k.id === 'd3')?.why).toBe('younger than 7 days');
  });

  it('a merged (consolidated) delta and the deltas it covers are kept for a later delta of the chain', () => {
    const saves = [save('f1', dsid(1, 0), 30), save('d1', dsid(1, 1), 29), save('d2', dsid(1, 2), 28), save('m12', dsid(1, 1, 2), 27), save('d3', dsid(1, 3), 26)];
    const d = dataSetRetention({ policy: { keepSaves: 1 }, saves, now: NOW });
    expect(d.expire).toEqual([]);
  });

  it('count and age together: a save either rule keeps stays', () => {
    const saves = [save('f1', dsid(1, 0), 30), save('f2', dsid(2, 0), 3), save('f3', dsid(3, 0), 2), save('f4', dsid(4, 0), 1)];
    expect(ids(dataSetRetention({ policy: { keepSaves: 1, keepDays: 5 }, saves, now: NOW }).expire)).toEqual(['f1']);
    expect(ids(dataSetRetention({ policy: { keepSaves: 1 }, saves, now: NOW }).expire)).toEqual(['f1', 'f2', 'f3']);
  });

  it('a running save keeps its chain; a save a running merge or restore reads is kept', () => {
    const saves = [save('f1', dsid(1, 0), 30), save('d1', dsid(1, 1), 29), save('f2', dsid(2, 0), 2, { inUse: 'restore r1' }), save('f3', dsid(3, 0), 1), { ...save('d2', dsid(1, 2), 0), completedAt: undefined }];
    const d = dataSetRetention({ policy: { keepSaves: 1 }, saves, now: NOW });
    expect(d.expire).toEqual([]);
    const why = Object.fromEntries(d.keep.map((k) => [k.id, k.why]));
    expect(why.d2).toBe('still running');
    expect(why.f2).toBe('read by restore r1, still running');
  });

  it('a delta on a stream (not expirable here) keeps its full save in a directory; the stream save itself never expires here', () => {
    const saves = [save('f1', dsid(1, 0), 30), save('d1', dsid(1, 1), 20, { expirable: false }), save('f2', dsid(2, 0), 1)];
    const d = dataSetRetention({ policy: { keepSaves: 1 }, saves, now: NOW });
    expect(d.expire).toEqual([]);
  });

  it('a branch after a restore (another lineage, same full save) keeps the full save', () => {
    const saves = [save('f1', dsid(1, 0), 30), save('d1', dsid(1, 1), 29), save('b2', dsid(1, 2, 2, 'L2'), 1)];
    expect(dataSetRetention({ policy: { keepSaves: 1 }, saves, now: NOW }).expire).toEqual([]);
  });

  it('already expired saves are neither expired again nor protect anything', () => {
    const saves = [save('f1', dsid(1, 0), 30, { expired: true }), save('d1', dsid(1, 1), 29, { expired: true }), save('f2', dsid(2, 0), 1)];
    const d = dataSetRetention({ policy: { keepSaves: 1 }, saves, now: NOW });
    expect(d.expire).toEqual([]);
    expect(ids(d.keep)).toEqual(['f2']);
  });

  it('refuses a policy that is not a positive integer', () => {
    expect(() => dataSetRetention({ policy: { keepSaves: 0 }, saves: [], now: NOW })).toThrow(/keepSaves must be an integer/);
    expect(() => dataSetRetention({ policy: { keepDays: 1.5 }, saves: [], now: NOW })).toThrow(/keepDays must be an integer/);
  });

  it('never breaks a chain: random histories of fulls, deltas, merged deltas and branches under random policies', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let run = 0; run < 300; run++) {
      const saves: RetentionSave[] = [];
      let full = 0;
      let delta = 0;
      let age = 60;
      for (let i = 0; i < 2 + rnd(14); i++) {
        age -= 1 + rnd(4);
        const r = rnd(10);
        if (full === 0 || r === 0) {
          full++;
          delta = 0;
          saves.push(save(`s${i}`, dsid(full, 0), age));
        } else if (r === 1 && delta >= 2) {
          saves.push(save(`s${i}`, dsid(full, delta - 1, delta), age, { kind: 'delta' }));
        } else {
          delta++;
          saves.push(save(`s${i}`, dsid(full, delta, delta, r === 2 ? 'L2' : 'L1'), age, { expirable: rnd(5) !== 0, inUse: rnd(12) === 0 ? 'merge m' : undefined }));
        }
      }
      if (rnd(3) === 0) saves.push({ ...save('running', dsid(full, delta + 1), 0), completedAt: undefined });
      const policy = { ...(rnd(2) ? { keepSaves: 1 + rnd(4) } : {}), ...(rnd(2) ? { keepDays: 1 + rnd(30) } : {}) };
      const d = dataSetRetention({ policy, saves, now: NOW });
      const expired = new Set(d.expire.map((e) => e.id));
      assertNoBrokenChain(saves, expired);
      expect(d.keep.length + d.expire.length).toBe(saves.length);
      for (const e of d.expire) expect(saves.find((s) => s.id === e.id)?.expirable).toBe(true);
      // expiring again what is left changes nothing
      const after = saves.map((s) => (expired.has(s.id) ? { ...s, expired: true } : s));
      expect(dataSetRetention({ policy, saves: after, now: NOW }).expire).toEqual([]);
    }
  });
});
