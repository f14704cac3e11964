import fc from 'fast-check';
import { DataSetDescriptor } from './dsid';
import { validateMerge, validateRestoreDelta, validateUnload } from './validate';
import { ds, dsid, ruleError, t } from './testing';

const full = ds('full', 'full', dsid(1, 0, 0, 1));
const d = (n: number, online = false, lineage = 'A') => ds(`d${n}`, 'delta', dsid(1, n, n, n + 1, lineage), online);
const names = (xs: DataSetDescriptor[]) => xs.map((x) => x.name);

describe('validateMerge: one passing and one failing case per rule', () => {
  it('NO_INPUT', () => {
    expect(validateMerge([d(1)]).output).toEqual(dsid(1, 1, 1, 2));
    expect(ruleError(() => validateMerge([]))).toMatchObject({ code: 'MERGE_INPUT_INVALID', rule: 'NO_INPUT' });
  });

  it('DSID_MALFORMED: kind and DSID must agree, numbers well formed', () => {
    expect(validateMerge([full]).outputKind).toBe('full');
    expect(ruleError(() => validateMerge([ds('f', 'full', dsid(1, 1, 1, 1))]))).toMatchObject({
      rule: 'DSID_MALFORMED',
      inputs: ['f'],
    });
    expect(ruleError(() => validateMerge([ds('x', 'delta', dsid(1, 0, 2, 1))]))).toMatchObject({ rule: 'DSID_MALFORMED' });
    expect(ruleError(() => validateMerge([ds('x', 'delta', { ...dsid(1, 1, 1, 1), lineage: '' })]))).toMatchObject({
      rule: 'DSID_MALFORMED',
    });
    expect(ruleError(() => validateMerge([ds('x', 'delta', dsid(1, 1, 2, 1), true)]))).toMatchObject({
      rule: 'DSID_MALFORMED',
    });
    expect(ruleError(() => validateMerge([{ ...d(1), dbid: 0 }]))).toMatchObject({ rule: 'DSID_MALFORMED' });
  });

  it('UNIQUE_NAMES', () => {
    expect(ruleError(() => validateMerge([d(1), { ...d(2), name: 'd1' }]))).toMatchObject({
      rule: 'UNIQUE_NAMES',
      inputs: ['d1'],
    });
  });

  it('SAME_DBID', () => {
    expect(validateMerge([full, d(1)]).inputs).toHaveLength(2);
    expect(ruleError(() => validateMerge([full, { ...d(1), dbid: 8 }]))).toMatchObject({
      rule: 'SAME_DBID',
      inputs: ['full', 'd1'],
    });
  });

  it('AT_MOST_ONE_FULL', () => {
    const other = ds('full2', 'full', dsid(1, 0, 1, 2));
    expect(ruleError(() => validateMerge([full, other]))).toMatchObject({
      rule: 'AT_MOST_ONE_FULL',
      inputs: ['full', 'full2'],
    });
  });

  it('takes any number of deltas (ADASAV stopped at eight)', () => {
    const many = Array.from({ length: 200 }, (_, i) => d(i + 1));
    const plan = validateMerge([...many].reverse().concat(full));
    expect(plan.output).toEqual(dsid(1, 0, 200, 201));
    expect(plan.inputs.map((x) => x.name)).toEqual(['full', ...many.map((x) => x.name)]);
  });

  it('AT_MOST_EIGHT_DELTAS (retired: only with seedLimits), unloaded DSIMs counting as deltas', () => {
    const eight = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => d(n));
    const seed = { seedLimits: true };
    expect(validateMerge([full, ...eight], seed).output).toEqual(dsid(1, 0, 8, 9));
    expect(ruleError(() => validateMerge([full, ...eight, d(9)], seed))).toMatchObject({ rule: 'AT_MOST_EIGHT_DELTAS' });
    expect(validateMerge([full, ...eight, d(9)]).output).toEqual(dsid(1, 0, 9, 10));
    const sevenPlusOnline = [...eight.slice(0, 7), d(8, true), ds('u8', 'unloaded-dsim', d(8).dsid)];
    expect(ruleError(() => validateMerge([full, ...sevenPlusOnline], seed))).toMatchObject({ rule: 'AT_MOST_EIGHT_DELTAS' });
    const withOriginal = [...eight.slice(0, 7), d(8, true), ds('o8', 'original-dsim', d(8).dsid)];
    expect(validateMerge([full, ...withOriginal], seed).inputs).toHaveLength(10);
  });

  it('SAME_FULL_NUMBER', () => {
    const other = ds('x', 'delta', dsid(2, 1, 1, 2));
    expect(ruleError(() => validateMerge([full, other]))).toMatchObject({ rule: 'SAME_FULL_NUMBER', inputs: ['full', 'x'] });
  });

  it('ASCENDING_TIMESTAMPS', () => {
    const late1 = ds('late1', 'delta', dsid(1, 1, 1, 5));
    const early2 = ds('early2', 'delta', dsid(1, 2, 2, 3));
    expect(validateMerge([d(1), d(2)]).inputs).toHaveLength(2);
    expect(ruleError(() => validateMerge([late1, early2]))).toMatchObject({
      rule: 'ASCENDING_TIMESTAMPS',
      inputs: ['late1', 'early2'],
    });
  });

  it('CONTINUOUS_SEQUENCE: consecutive or overlapping passes, a gap fails', () => {
    const a = ds('a', 'delta', dsid(1, 1, 2, 3));
    const b = ds('b', 'delta', dsid(1, 2, 3, 4));
    expect(validateMerge([a, b]).output).toEqual(dsid(1, 1, 3, 4));
    const e = ruleError(() => validateMerge([full, d(1), d(3)]));
    expect(e).toMatchObject({ rule: 'CONTINUOUS_SEQUENCE', inputs: ['d1', 'd3'] });
    expect(e.message).toMatch(/delta save 2 missing/);
    expect(ruleError(() => validateMerge([full, d(2)]))).toMatchObject({ rule: 'CONTINUOUS_SEQUENCE' });
  });

  it('CONTINUOUS_SEQUENCE: a contained range adds nothing and fails', () => {
    const wide = ds('wide', 'delta', dsid(1, 1, 3, 2));
    const inner = ds('inner', 'delta', dsid(1, 2, 2, 5));
    expect(ruleError(() => validateMerge([wide, inner]))).toMatchObject({ rule: 'CONTINUOUS_SEQUENCE' });
  });

  it('ONLINE_SAVE_NEEDS_DSIM: an online save needs its original or unloaded DSIM', () => {
    const online = d(1, true);
    expect(validateMerge([online, ds('o', 'original-dsim', online.dsid)]).inputs).toHaveLength(2);
    expect(validateMerge([online, ds('u', 'unloaded-dsim', online.dsid)]).inputs).toHaveLength(2);
    expect(ruleError(() => validateMerge([full, online, d(2)]))).toMatchObject({
      rule: 'ONLINE_SAVE_NEEDS_DSIM',
      inputs: ['d1'],
    });
    const onlineFull = ds('of', 'full', dsid(1, 0, 0, 1), true);
    expect(ruleError(() => validateMerge([onlineFull, d(1)]))).toMatchObject({ rule: 'ONLINE_SAVE_NEEDS_DSIM' });
  });

  it('ONLINE_SAVE_NEEDS_DSIM: the unloaded DSIM is placed right after its save whatever the given order', () => {
    const online = d(1, true);
    const plan = validateMerge([d(2), ds('u1', 'unloaded-dsim', online.dsid), full, online]);
    expect(names(plan.inputs)).toEqual(['full', 'd1', 'u1', 'd2']);
  });

  it('ONE_DSIM_PER_SAVE', () => {
    const online = d(1, true);
    const e = ruleError(() =>
      validateMerge([online, ds('o', 'original-dsim', online.dsid), ds('u', 'unloaded-dsim', online.dsid)]),
    );
    expect(e).toMatchObject({ rule: 'ONE_DSIM_PER_SAVE', inputs: ['d1', 'o', 'u'] });
  });

  it('AT_MOST_ONE_ORIGINAL_DSIM', () => {
    const a = d(1, true);
    const b = d(2, true);
    const e = ruleError(() =>
      validateMerge([a, b, ds('oa', 'original-dsim', a.dsid), ds('ob', 'original-dsim', b.dsid)]),
    );
    expect(e).toMatchObject({ rule: 'AT_MOST_ONE_ORIGINAL_DSIM', inputs: ['oa', 'ob'] });
    expect(validateMerge([a, b, ds('ua', 'unloaded-dsim', a.dsid), ds('ob', 'original-dsim', b.dsid)]).inputs).toHaveLength(4);
  });

  it('DSIM_WITHOUT_ONLINE_SAVE: a DSIM must correspond to an online save in the input', () => {
    const e = ruleError(() => validateMerge([full, d(1), ds('o', 'original-dsim', d(1).dsid)]));
    expect(e).toMatchObject({ rule: 'DSIM_WITHOUT_ONLINE_SAVE', inputs: ['o'] });
    expect(ruleError(() => validateMerge([ds('u', 'unloaded-dsim', d(1).dsid)]))).toMatchObject({
      rule: 'DSIM_WITHOUT_ONLINE_SAVE',
    });
    const otherTime = ds('o', 'original-dsim', dsid(1, 1, 1, 9));
    expect(ruleError(() => validateMerge([d(1, true), otherTime]))).toMatchObject({ rule: 'DSIM_WITHOUT_ONLINE_SAVE' });
  });

  it('SAME_LINEAGE: saves of one branch pass, a save from an abandoned branch fails', () => {
    const B = 'A>1:1#1';
    expect(validateMerge([full, d(1), ds('b2', 'delta', dsid(1, 2, 2, 5, B))]).output.lineage).toBe(B);
    const e = ruleError(() => validateMerge([full, d(1), d(2), ds('b3', 'delta', dsid(1, 3, 3, 5, B))]));
    expect(e).toMatchObject({ rule: 'SAME_LINEAGE', inputs: ['d2', 'b3'] });
  });
});

describe('validateRestoreDelta', () => {
  it('FULL_REQUIRED unless restoring into a shadow database', () => {
    expect(validateRestoreDelta([full, d(1)], { shadow: false }).conventional).toBe(false);
    expect(ruleError(() => validateRestoreDelta([d(1), d(2)], { shadow: false }))).toMatchObject({
      code: 'RESTORE_INPUT_INVALID',
      rule: 'FULL_REQUIRED',
    });
    expect(validateRestoreDelta([d(2), d(1)], { shadow: true }).inputs.map((x) => x.name)).toEqual(['d1', 'd2']);
  });

  it('an online full alone needs its DSIM; an offline full alone is a conventional restore', () => {
    const onlineFull = ds('of', 'full', dsid(1, 0, 0, 1), true);
    expect(ruleError(() => validateRestoreDelta([onlineFull], { shadow: false }))).toMatchObject({
      rule: 'ONLINE_SAVE_NEEDS_DSIM',
      inputs: ['of'],
    });
    const withDsim = validateRestoreDelta([onlineFull, ds('u', 'unloaded-dsim', onlineFull.dsid)], { shadow: false });
    expect(withDsim.conventional).toBe(false);
    expect(validateRestoreDelta([full], { shadow: false }).conventional).toBe(true);
  });

  it('ORIGINAL_DSIM_NOT_LAST_ONLINE_SAVE: the original DSIM is only for the last online save', () => {
    const a = d(1, true);
    const b = d(2, true);
    const ok = validateRestoreDelta([full, a, b, ds('ua', 'unloaded-dsim', a.dsid), ds('ob', 'original-dsim', b.dsid)], {
      shadow: false,
    });
    expect(ok.inputs.map((x) => x.name)).toEqual(['full', 'd1', 'ua', 'd2', 'ob']);
    const e = ruleError(() =>
      validateRestoreDelta([full, a, b, ds('oa', 'original-dsim', a.dsid), ds('ub', 'unloaded-dsim', b.dsid)], {
        shadow: false,
      }),
    );
    expect(e).toMatchObject({ rule: 'ORIGINAL_DSIM_NOT_LAST_ONLINE_SAVE', inputs: ['oa', 'd2'] });
    // In a merge the original DSIM may belong to any online save.
    expect(validateMerge([full, a, b, ds('oa', 'original-dsim', a.dsid), ds('ub', 'unloaded-dsim', b.dsid)]).inputs).toHaveLength(5);
  });

  it('shares the merge rules (gap, eight deltas, lineage)', () => {
    expect(ruleError(() => validateRestoreDelta([full, d(2)], { shadow: false }))).toMatchObject({
      code: 'RESTORE_INPUT_INVALID',
      rule: 'CONTINUOUS_SEQUENCE',
    });
    const nine = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => d(n));
    expect(ruleError(() => validateRestoreDelta([full, ...nine], { shadow: false, seedLimits: true }))).toMatchObject({
      rule: 'AT_MOST_EIGHT_DELTAS',
    });
    expect(validateRestoreDelta([full, ...nine], { shadow: false }).inputs).toHaveLength(10);
  });

  it('with `after`, the deltas must continue the status the database already reflects', () => {
    const shadowAt = dsid(1, 0, 2, 3);
    expect(validateRestoreDelta([d(3), d(4)], { shadow: true, after: shadowAt }).inputs).toHaveLength(2);
    expect(ruleError(() => validateRestoreDelta([d(4)], { shadow: true, after: shadowAt }))).toMatchObject({
      rule: 'CONTINUOUS_SEQUENCE',
      inputs: ['d4'],
    });
    expect(ruleError(() => validateRestoreDelta([d(2)], { shadow: true, after: shadowAt }))).toMatchObject({
      rule: 'ASCENDING_TIMESTAMPS',
    });
    expect(ruleError(() => validateRestoreDelta([d(3)], { shadow: true, after: dsid(1, 0, 2, 3, 'Z') }))).toMatchObject({
      rule: 'SAME_LINEAGE',
    });
    expect(ruleError(() => validateRestoreDelta([d(3)], { shadow: true, after: dsid(2, 0, 2, 3) }))).toMatchObject({
      rule: 'SAME_FULL_NUMBER',
    });
    // An interrupted restore resumes without the full save, which is already in the database.
    expect(validateRestoreDelta([d(1), d(2)], { shadow: false, after: full.dsid }).inputs).toHaveLength(2);
  });
});

describe('validateUnload (ADAULD from a full save + deltas + DSIM)', () => {
  it('needs the full save, and otherwise follows the merge rules', () => {
    expect(ruleError(() => validateUnload([d(1), d(2)]))).toMatchObject({ code: 'MERGE_INPUT_INVALID', rule: 'FULL_REQUIRED' });
    expect(ruleError(() => validateUnload([full, d(2)]))).toMatchObject({ rule: 'CONTINUOUS_SEQUENCE' });
    const online = d(2, true);
    const plan = validateUnload([ds('o2', 'original-dsim', online.dsid), online, d(1), full]);
    expect(plan.inputs.map((x) => x.name)).toEqual(['full', 'd1', 'd2', 'o2']);
    expect(plan.output).toEqual(dsid(1, 0, 2, 3));
  });
});

describe('properties', () => {
  // A chain: full 1/0 then deltas 1..n, each optionally online (with an original or unloaded DSIM),
  // some runs of deltas pre-merged into consolidated ranges.
  const chainArb = fc
    .record({
      withFull: fc.boolean(),
      fullOnline: fc.boolean(),
      cuts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 8 }),
      onlineIdx: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      firstDelta: fc.integer({ min: 1, max: 5 }),
      shuffleSeed: fc.integer(),
    })
    .map(({ withFull, fullOnline, cuts, onlineIdx, firstDelta, shuffleSeed }) => {
      const inputs: DataSetDescriptor[] = [];
      let usedOriginal = false;
      const addDsim = (save: DataSetDescriptor) => {
        const kind = usedOriginal ? 'unloaded-dsim' : 'original-dsim';
        usedOriginal = true;
        inputs.push(ds(`dsim-${save.name}`, kind, save.dsid));
      };
      if (withFull) {
        const f = ds('full', 'full', { ...dsid(1, 0, firstDelta - 1, 0), timestamp: t(0) }, fullOnline && firstDelta === 1);
        inputs.push(f);
        if (f.online) addDsim(f);
      }
      let next = firstDelta;
      let deltaLike = 0;
      cuts.forEach((len, i) => {
        // A raw save (single number) may be online; a consolidated range is a merge output, offline.
        const online = len === 1 && onlineIdx[i] && deltaLike < 7;
        const save = ds(`d${next}-${next + len - 1}`, 'delta', dsid(1, next, next + len - 1, next + len), online);
        if (deltaLike + (online ? 2 : 1) > 8) return;
        inputs.push(save);
        deltaLike += 1;
        if (online) {
          addDsim(save);
          if (inputs[inputs.length - 1].kind === 'unloaded-dsim') deltaLike += 1;
        }
        next += len;
      });
      const shuffled = [...inputs].sort((a, b) => ((hash(a.name) ^ shuffleSeed) >>> 0) - ((hash(b.name) ^ shuffleSeed) >>> 0));
      return { inputs, shuffled };
    });

  it('any valid consecutive chain validates, in any given order, to the chain order', () => {
    fc.assert(
      fc.property(chainArb, ({ inputs, shuffled }) => {
        const plan = validateMerge(shuffled);
        expect(names(plan.inputs)).toEqual(names(inputs));
        const saves = inputs.filter((x) => x.kind === 'full' || x.kind === 'delta');
        expect(plan.output.deltaTo).toBe(saves[saves.length - 1].dsid.deltaTo);
        expect(plan.output.deltaFrom).toBe(saves[0].dsid.deltaFrom);
      }),
    );
  });

  it('removing any middle save (with its DSIM) makes the chain fail as not continuous', () => {
    fc.assert(
      fc.property(
        chainArb.filter(({ inputs }) => inputs.filter((x) => x.kind === 'full' || x.kind === 'delta').length >= 3),
        fc.nat(),
        ({ inputs }, pick) => {
          const saves = inputs.filter((x) => x.kind === 'full' || x.kind === 'delta');
          const victim = saves[1 + (pick % (saves.length - 2))];
          const rest = inputs.filter((x) => x !== victim && x.name !== `dsim-${victim.name}`);
          expect(ruleError(() => validateMerge(rest)).rule).toBe('CONTINUOUS_SEQUENCE');
        },
      ),
    );
  });
});

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h;
}
