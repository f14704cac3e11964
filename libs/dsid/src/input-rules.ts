import { DataSetDescriptor, Dsid } from './dsid';
import { DsidParseError, DsidRule, DsidRuleError } from './errors';
import { assertValidDsid, formatDsid, sameDsid } from './format';
import { isOnHistoryOf } from './lineage';

/** What differs between the merge and the restore-delta input checks. */
export interface InputCheck {
  readonly code: 'MERGE_INPUT_INVALID' | 'RESTORE_INPUT_INVALID';
  readonly fullRequired: boolean;
  /** restore delta: an original DSIM may only belong to the last online save */
  readonly restore: boolean;
  readonly after?: Dsid;
  /** apply ADASAV's limit of eight delta inputs (rule AT_MOST_EIGHT_DELTAS); off by default */
  readonly seedLimits?: boolean;
  /** what to say when FULL_REQUIRED fails */
  readonly fullRequiredMessage?: string;
}

/**
 * Seed: "zero to eight consecutive delta save tapes including unloaded DSIM data sets". Deltaflow
 * takes any number of inputs (a merge cascades internally beyond its fan-in); this limit and its
 * rule AT_MOST_EIGHT_DELTAS apply only with `seedLimits`, for operators who want ADASAV's behaviour.
 */
export const MAX_DELTA_INPUTS = 8;

const isSave = (d: DataSetDescriptor) => d.kind === 'full' || d.kind === 'delta';
const isDsim = (d: DataSetDescriptor) => d.kind === 'original-dsim' || d.kind === 'unloaded-dsim';
const show = (d: Dsid) => formatDsid(d);

/**
 * Runs every rule in a fixed order (shape first, then counts, numbers, DSIMs, lineage, time, sequence)
 * so a given bad input always reports the same rule. Returns the saves (full and delta data sets)
 * sorted by position: the full first, then by delta range.
 */
export function checkInputs(inputs: readonly DataSetDescriptor[], c: InputCheck): DataSetDescriptor[] {
  const fail = (rule: DsidRule, offenders: readonly DataSetDescriptor[], message: string): never => {
    throw new DsidRuleError(c.code, rule, [...new Set(offenders.map((d) => d.name))], message);
  };
  if (inputs.length === 0) fail('NO_INPUT', [], 'no input data sets');
  for (const d of inputs) checkShape(d, (msg) => fail('DSID_MALFORMED', [d], msg));
  if (c.after) {
    try {
      assertValidDsid(c.after);
    } catch (e) {
      if (e instanceof DsidParseError) fail('DSID_MALFORMED', [], `"after" DSID: ${e.message}`);
      throw e;
    }
  }

  const names = new Map<string, DataSetDescriptor>();
  for (const d of inputs) {
    if (names.has(d.name)) fail('UNIQUE_NAMES', [d], `data set "${d.name}" given twice`);
    names.set(d.name, d);
  }
  const dbid = inputs[0].dbid;
  const foreign = inputs.filter((d) => d.dbid !== dbid);
  if (foreign.length) fail('SAME_DBID', [inputs[0], ...foreign], `inputs belong to databases ${dbid} and ${foreign[0].dbid}`);

  const fulls = inputs.filter((d) => d.kind === 'full');
  if (fulls.length > 1) fail('AT_MOST_ONE_FULL', fulls, `${fulls.length} full saves given, at most one allowed`);
  if (c.fullRequired && fulls.length === 0)
    fail('FULL_REQUIRED', [], c.fullRequiredMessage ?? 'a restore delta needs a full save unless it applies to a shadow database');
  const deltaLike = inputs.filter((d) => d.kind === 'delta' || d.kind === 'unloaded-dsim');
  if (c.seedLimits && deltaLike.length > MAX_DELTA_INPUTS)
    fail(
      'AT_MOST_EIGHT_DELTAS',
      deltaLike,
      `${deltaLike.length} delta inputs (unloaded DSIMs count as deltas), at most ${MAX_DELTA_INPUTS} with seedLimits: merge the first eight first`,
    );
  const fullNo = inputs[0].dsid.full;
  const otherFull = inputs.filter((d) => d.dsid.full !== fullNo);
  if (otherFull.length)
    fail('SAME_FULL_NUMBER', [inputs[0], ...otherFull], `full save numbers ${fullNo} and ${otherFull[0].dsid.full}`);
  if (c.after && c.after.full !== fullNo)
    fail('SAME_FULL_NUMBER', inputs, `inputs have full save number ${fullNo}, the database is at ${show(c.after)}`);

  const saves = inputs.filter(isSave).sort(byPosition);
  if (saves.length === 0) fail('DSIM_WITHOUT_ONLINE_SAVE', inputs, 'only DSIM data sets given');
  checkDsims(inputs, saves, c, fail);
  checkLineage(saves, c, fail);
  checkSequence(saves, c, fail);
  return saves;
}

type Fail = (rule: DsidRule, offenders: readonly DataSetDescriptor[], message: string) => never;

function checkShape(d: DataSetDescriptor, bad: (message: string) => never): void {
  if (typeof d.name !== 'string' || d.name.length === 0) bad('data set name is empty');
  if (!Number.isSafeInteger(d.dbid) || d.dbid < 1) bad(`dbid ${d.dbid} must be a positive integer`);
  try {
    assertValidDsid(d.dsid);
  } catch (e) {
    if (e instanceof DsidParseError) bad(e.message);
    throw e;
  }
  const { deltaFrom, deltaTo } = d.dsid;
  switch (d.kind) {
    case 'full':
      if (deltaFrom !== 0) bad(`a full save has delta number 0 first, got ${show(d.dsid)}`);
      if (d.online && deltaTo !== 0) bad('an online full save is never a merge output (merge outputs are offline)');
      break;
    case 'delta':
      if (deltaFrom === 0) bad(`a delta save has delta numbers ≥ 1, got ${show(d.dsid)}`);
      if (d.online && deltaFrom !== deltaTo) bad('an online delta save is never a merge output (merge outputs are offline)');
      break;
    case 'original-dsim':
    case 'unloaded-dsim':
      if (deltaFrom !== deltaTo) bad('a DSIM belongs to one online save, whose DSID has a single delta number');
      break;
    default: {
      const never: never = d.kind;
      bad(`unknown kind ${String(never)}`);
    }
  }
}

/** Full first, then by delta range (from, to), then by time: the apply order, newest winning. */
function byPosition(a: DataSetDescriptor, b: DataSetDescriptor): number {
  const af = a.kind === 'full' ? 0 : 1;
  const bf = b.kind === 'full' ? 0 : 1;
  return (
    af - bf ||
    a.dsid.deltaFrom - b.dsid.deltaFrom ||
    a.dsid.deltaTo - b.dsid.deltaTo ||
    a.dsid.timestamp - b.dsid.timestamp
  );
}

/** Finds, for each DSIM, the online save it belongs to (same dbid and identical DSID). */
function matchDsims(inputs: readonly DataSetDescriptor[], saves: readonly DataSetDescriptor[], fail: Fail) {
  const bySave = new Map<DataSetDescriptor, DataSetDescriptor[]>();
  for (const dsim of inputs.filter(isDsim)) {
    const save = saves.find((s) => s.online && sameDsid(s.dsid, dsim.dsid));
    if (!save)
      fail(
        'DSIM_WITHOUT_ONLINE_SAVE',
        [dsim],
        `DSIM ${show(dsim.dsid)} corresponds to no online save in the input (its blocks only make sense on top of that save)`,
      );
    else bySave.set(save, [...(bySave.get(save) ?? []), dsim]);
  }
  return bySave;
}

function checkDsims(inputs: readonly DataSetDescriptor[], saves: readonly DataSetDescriptor[], c: InputCheck, fail: Fail) {
  const originals = inputs.filter((d) => d.kind === 'original-dsim');
  if (originals.length > 1) fail('AT_MOST_ONE_ORIGINAL_DSIM', originals, 'a database has one original DSIM data set');
  const bySave = matchDsims(inputs, saves, fail);
  for (const [save, dsims] of bySave)
    if (dsims.length > 1)
      fail('ONE_DSIM_PER_SAVE', [save, ...dsims], `online save ${show(save.dsid)} given with ${dsims.length} DSIMs`);
  for (const save of saves)
    if (save.online && !bySave.has(save))
      fail(
        'ONLINE_SAVE_NEEDS_DSIM',
        [save],
        `online save ${show(save.dsid)} needs its original DSIM or its unloaded DSIM (right after it)`,
      );
  if (c.restore && originals.length === 1) {
    const lastOnline = [...saves].reverse().find((s) => s.online);
    if (lastOnline && !sameDsid(lastOnline.dsid, originals[0].dsid))
      fail(
        'ORIGINAL_DSIM_NOT_LAST_ONLINE_SAVE',
        [originals[0], lastOnline],
        `a restore delta takes the original DSIM only for the last online save (${show(lastOnline.dsid)}); give the unloaded DSIM instead`,
      );
  }
}

/**
 * Every save must lie on the history of the newest save's branch: a restore to an older status
 * starts a new branch, and saves made on the abandoned branch after the restored point no longer
 * fit (seed "Invalid Merges", which the original could not detect).
 */
function checkLineage(saves: readonly DataSetDescriptor[], c: InputCheck, fail: Fail) {
  let newest = saves[0];
  for (const s of saves) if (s.dsid.timestamp > newest.dsid.timestamp) newest = s;
  const branch = newest.dsid.lineage;
  for (const s of saves)
    if (!isOnHistoryOf(s.dsid, branch))
      fail(
        'SAME_LINEAGE',
        [s, newest],
        `${show(s.dsid)} is not on the history of branch ${branch} of the newest input (taken on another branch, e.g. before a restore to an older status)`,
      );
  if (c.after && !isOnHistoryOf(c.after, branch))
    fail('SAME_LINEAGE', [newest], `the database is at ${show(c.after)}, which is not on the history of branch ${branch}`);
}

function checkSequence(saves: readonly DataSetDescriptor[], c: InputCheck, fail: Fail) {
  for (let i = 1; i < saves.length; i++) {
    const prev = saves[i - 1];
    const next = saves[i];
    if (next.dsid.timestamp <= prev.dsid.timestamp)
      fail(
        'ASCENDING_TIMESTAMPS',
        [prev, next],
        `${show(next.dsid)} follows ${show(prev.dsid)} by number but not by time stamp`,
      );
  }
  if (c.after) {
    const first = saves[0];
    if (first.dsid.timestamp <= c.after.timestamp)
      fail('ASCENDING_TIMESTAMPS', [first], `${show(first.dsid)} is not newer than the database status ${show(c.after)}`);
    if (first.kind === 'full')
      fail('CONTINUOUS_SEQUENCE', [first], `the database is already at ${show(c.after)}; a full save would restart it`);
    checkFollows(c.after, first, fail, []);
  }
  for (let i = 1; i < saves.length; i++) checkFollows(saves[i - 1].dsid, saves[i], fail, [saves[i - 1]]);
}

/** `next` must continue `prev`: no delta number skipped, and it must add at least one newer delta. */
function checkFollows(prev: Dsid, next: DataSetDescriptor, fail: Fail, prevInputs: DataSetDescriptor[]) {
  if (next.dsid.deltaFrom > prev.deltaTo + 1)
    fail(
      'CONTINUOUS_SEQUENCE',
      [...prevInputs, next],
      `delta save${next.dsid.deltaFrom - prev.deltaTo > 2 ? 's' : ''} ${prev.deltaTo + 1}${
        next.dsid.deltaFrom - 1 > prev.deltaTo + 1 ? `-${next.dsid.deltaFrom - 1}` : ''
      } missing between ${show(prev)} and ${show(next.dsid)}`,
    );
  if (next.dsid.deltaTo <= prev.deltaTo)
    fail(
      'CONTINUOUS_SEQUENCE',
      [...prevInputs, next],
      `${show(next.dsid)} adds no delta after ${show(prev)} (duplicate or contained range)`,
    );
}

/** Sorted saves with each DSIM placed right after its online save (newest wins when applying in this order). */
export function orderInputs(inputs: readonly DataSetDescriptor[], saves: readonly DataSetDescriptor[]): DataSetDescriptor[] {
  const out: DataSetDescriptor[] = [];
  for (const s of saves) {
    out.push(s);
    if (s.online) for (const d of inputs) if (isDsim(d) && sameDsid(d.dsid, s.dsid)) out.push(d);
  }
  return out;
}

/** A merge containing a full save yields a full save, otherwise a consolidated delta. */
export function derivedOutputKind(saves: readonly DataSetDescriptor[]): 'full' | 'delta' {
  return saves.some((s) => s.kind === 'full') ? 'full' : 'delta';
}
