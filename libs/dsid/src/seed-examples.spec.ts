import { DataSetDescriptor, DataSetKind, Dsid } from './dsid';
import { deriveMergedDsid } from './derive';
import { DsidRuleError } from './errors';
import { formatDsid } from './format';
import { validateMerge } from './validate';

// Time stamps t1 < t2 < ... one hour apart.
const t = (i: number) => Date.UTC(2026, 10, 22, i, 0, 0);
const dsid = (full: number, from: number, to: number, ti: number, lineage = 'A'): Dsid => ({
  full,
  deltaFrom: from,
  deltaTo: to,
  timestamp: t(ti),
  lineage,
});
const ds = (name: string, kind: DataSetKind, d: Dsid, online = false): DataSetDescriptor => ({
  name,
  dbid: 7,
  kind,
  dsid: d,
  online,
});
const short = (d: Dsid) => formatDsid(d).replace(/\/\d{4}-\d\d-\d\dT(\d\d):00:00\.000Z/, (_, h) => `/t${Number(h)}`);

describe('seed: Delta Save Identifier derivation', () => {
  it('4/0/t1 + 4/1/t2 + 4/2/t3 gives 4/0-2/t3', () => {
    expect(short(deriveMergedDsid([dsid(4, 0, 0, 1), dsid(4, 1, 1, 2), dsid(4, 2, 2, 3)]))).toBe('4/0-2/t3@A');
  });
  it('rejects DSIDs of different full saves', () => {
    expect(() => deriveMergedDsid([dsid(4, 0, 0, 1), dsid(5, 1, 1, 2)])).toThrow(/SAME_FULL_NUMBER/);
  });
});

describe('seed: Delta Save - Save/Merge Sequence (four steps)', () => {
  // Step 1: online full save 1/0/t1, its DSIM unloaded (1a).
  const full1 = ds('full-1', 'full', dsid(1, 0, 0, 1), true);
  const dsim1a = ds('dsim-1a', 'unloaded-dsim', dsid(1, 0, 0, 1));
  // Step 2: online delta save 1/1/t2 (3), merged with its original DSIM (3a) to an offline delta.
  const delta3 = ds('delta-3', 'delta', dsid(1, 1, 1, 2), true);
  const dsim3a = ds('dsim-3a', 'original-dsim', dsid(1, 1, 1, 2));
  // Step 3: online delta save 1/2/t3 (4) with original DSIM (4a).
  const delta4 = ds('delta-4', 'delta', dsid(1, 2, 2, 3), true);
  const dsim4a = ds('dsim-4a', 'original-dsim', dsid(1, 2, 2, 3));
  // Step 4: online delta save 1/3/t4 (6) with original DSIM (6a).
  const delta6 = ds('delta-6', 'delta', dsid(1, 3, 3, 4), true);
  const dsim6a = ds('dsim-6a', 'original-dsim', dsid(1, 3, 3, 4));

  it('step 1: online full + its DSIM merge to an offline full save still 1/0/t1', () => {
    const plan = validateMerge([dsim1a, full1]);
    expect(short(plan.output)).toBe('1/0/t1@A');
    expect(plan.outputKind).toBe('full');
    expect(plan.inputs.map((d) => d.name)).toEqual(['full-1', 'dsim-1a']);
  });

  it('step 2: online delta + its original DSIM merge to an offline delta still 1/1/t2', () => {
    const plan = validateMerge([delta3, dsim3a]);
    expect(short(plan.output)).toBe('1/1/t2@A');
    expect(plan.outputKind).toBe('delta');
  });

  it('step 3: merged delta 1/1/t2 + online delta 1/2/t3 + its DSIM give consolidated delta 1/1-2/t3', () => {
    const merged3 = ds('merged-3', 'delta', validateMerge([delta3, dsim3a]).output);
    const plan = validateMerge([delta4, merged3, dsim4a]);
    expect(short(plan.output)).toBe('1/1-2/t3@A');
    expect(plan.outputKind).toBe('delta');
    expect(plan.inputs.map((d) => d.name)).toEqual(['merged-3', 'delta-4', 'dsim-4a']);
  });

  it('step 4: full 1 + unloaded DSIM 1a + consolidated 5 + online delta 6 + original DSIM 6a give full 1/0-3/t4', () => {
    const merged3 = ds('merged-3', 'delta', validateMerge([delta3, dsim3a]).output);
    const consolidated5 = ds('consolidated-5', 'delta', validateMerge([merged3, delta4, dsim4a]).output);
    const plan = validateMerge([delta6, consolidated5, dsim6a, full1, dsim1a]);
    expect(short(plan.output)).toBe('1/0-3/t4@A');
    expect(plan.outputKind).toBe('full');
    expect(plan.inputs.map((d) => d.name)).toEqual(['full-1', 'dsim-1a', 'consolidated-5', 'delta-6', 'dsim-6a']);
  });
});

describe('seed: Invalid Merges (DSIDs reused after a restore), rejected by lineage', () => {
  // full 1/0/t1 on A; delta 1/1/t2 on A; restore of the full forks branch A>1:0#1;
  // deltas 1/1/t3 and 1/2/t4 on that branch.
  const B = 'A>1:0#1';
  const full = ds('full', 'full', dsid(1, 0, 0, 1));
  const oldDelta = ds('delta-t2', 'delta', dsid(1, 1, 1, 2));
  const d3 = ds('delta-t3', 'delta', dsid(1, 1, 1, 3, B));
  const d4 = ds('delta-t4', 'delta', dsid(1, 2, 2, 4, B));

  it('rejects 1/0/t1 + 1/1/t2 + 1/2/t4, naming the lineage rule and the inputs that break it', () => {
    let err: unknown;
    try {
      validateMerge([full, oldDelta, d4]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DsidRuleError);
    expect(err).toMatchObject({ code: 'MERGE_INPUT_INVALID', rule: 'SAME_LINEAGE', inputs: ['delta-t2', 'delta-t4'] });
  });

  it('accepts the valid combination 1/0/t1 + 1/1/t3 + 1/2/t4 on the new branch', () => {
    const plan = validateMerge([full, d3, d4]);
    expect(short(plan.output)).toBe(`1/0-2/t4@${B}`);
  });
});
