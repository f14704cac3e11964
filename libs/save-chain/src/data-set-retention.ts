/**
 * Which data sets of a database may expire (issue 13, "Files"): retention by save count and/or
 * age, never breaking a chain that a kept save needs. Pure: the catalog asks it for each
 * database when `dsf expire` runs; the save writer deletes the files it names, the DSIM builder
 * the PostgreSQL rows of the expired saves (docs/ARCHITECTURE.md, "Retention").
 *
 * The policy keeps a save when it is one of the last `keepSaves` completed saves of the database
 * (saves and merge outputs alike, by completion time) OR completed less than `keepDays` days ago
 * (both rules given: a save either keeps stays). No rule: everything is kept.
 *
 * The chain rule (the one `dsf expire` already applies to client files: a full save a live delta
 * chain needs is kept) extended to every link: a kept, running or externally live save needs
 *   - if it is a delta: every save of the same full save number with `deltaTo` below its
 *     `deltaFrom` (the full save itself, the earlier deltas and the merged deltas covering them),
 *     whatever their lineage (a branch after a restore continues from the same full save); this
 *     is more than the shortest restorable chain when merged deltas exist, never less;
 *   - its DSIM (an online save restores only with it): the DSIM's data set is one of the save's
 *     files, so it expires with the save and never alone.
 * A save read by a running merge or restore (`inUse`) is kept. Saves that are not in a
 * directory (`expirable: false`, a client file on a stream: those expire by their expiry date)
 * are never expired here, but their chains are honoured all the same.
 */
import { formatDsid, type Dsid } from '@deltaflow/dsid';
import { SaveChainError } from './errors';

const DAY_MS = 86_400_000;

export interface DataSetRetentionPolicy {
  /** keep the last N completed saves (>= 1) */
  readonly keepSaves?: number;
  /** keep saves completed within the last D days (>= 1) */
  readonly keepDays?: number;
}

/** One save (or merge output) of a database as the retention sees it. */
export interface RetentionSave {
  /** the correlation id of the command that made it */
  readonly id: string;
  readonly dsid: Dsid;
  readonly kind: 'full' | 'delta';
  /** completed (else still running: kept, with its chain) */
  readonly completedAt?: number;
  /** in a directory destination, so this retention may expire it (a client file on a stream: false) */
  readonly expirable: boolean;
  /** already expired (its files are gone or going): needs nothing, protects nothing */
  readonly expired?: boolean;
  /** the data set names that go with it (its own, its unloaded DSIM) */
  readonly files: readonly string[];
  /** a running merge or restore that reads it */
  readonly inUse?: string;
}

export interface RetentionKeep {
  readonly id: string;
  readonly dsid: Dsid;
  readonly why: string;
}

export interface RetentionExpiry {
  readonly id: string;
  readonly dsid: Dsid;
  readonly files: readonly string[];
  readonly why: string;
}

export interface DataSetRetentionDecision {
  /** the policy in words ("the last 3 saves and those younger than 7 days", "everything: no retention set") */
  readonly rule: string;
  /** every save that is not expired, with why it stays */
  readonly keep: readonly RetentionKeep[];
  /** the saves that expire now, with their files and why */
  readonly expire: readonly RetentionExpiry[];
}

export function checkRetentionPolicy(p: DataSetRetentionPolicy): void {
  for (const [k, v] of [['keepSaves', p.keepSaves], ['keepDays', p.keepDays]] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 1_000_000)) throw new SaveChainError('VALIDATION', `${k} must be an integer from 1 to 1000000, got ${v}`);
}

export function describeRetentionPolicy(p: DataSetRetentionPolicy): string {
  const parts = [
    ...(p.keepSaves !== undefined ? [`the last ${p.keepSaves} save${p.keepSaves === 1 ? '' : 's'}`] : []),
    ...(p.keepDays !== undefined ? [`saves younger than ${p.keepDays} day${p.keepDays === 1 ? '' : 's'}`] : []),
  ];
  return parts.length ? parts.join(' and ') : 'everything (no retention set)';
}


/** Whether `later` (a delta) needs `earlier` to be restored: same full save, earlier in its chain. */
export function chainNeeds(later: Pick<RetentionSave, 'dsid' | 'kind'>, earlier: Pick<RetentionSave, 'dsid' | 'kind'>): boolean {
  return later.kind === 'delta' && earlier.dsid.full === later.dsid.full && earlier.dsid.deltaTo < later.dsid.deltaFrom;
}

export function dataSetRetention(input: { readonly policy: DataSetRetentionPolicy; readonly saves: readonly RetentionSave[]; readonly now: number }): DataSetRetentionDecision {
  const { policy, now } = input;
  checkRetentionPolicy(policy);
  const rule = describeRetentionPolicy(policy);
  const live = input.saves.filter((s) => !s.expired);
  const why = new Map<string, string>();
  const noPolicy = policy.keepSaves === undefined && policy.keepDays === undefined;
  const completed = live.filter((s) => s.completedAt !== undefined).sort((a, b) => b.completedAt! - a.completedAt! || (a.id < b.id ? 1 : -1));
  completed.forEach((s, i) => {
    if (noPolicy) why.set(s.id, 'no retention set: everything is kept');
    else if (!s.expirable) why.set(s.id, 'a client file on a stream (it expires by its expiry date)');
    else if (s.inUse) why.set(s.id, `read by ${s.inUse}, still running`);
    else if (policy.keepSaves !== undefined && i < policy.keepSaves) why.set(s.id, policy.keepSaves === 1 ? 'the last save' : `one of the last ${policy.keepSaves} saves`);
    else if (policy.keepDays !== undefined && s.completedAt! > now - policy.keepDays * DAY_MS) why.set(s.id, `younger than ${policy.keepDays} day${policy.keepDays === 1 ? '' : 's'}`);
  });
  for (const s of live) if (s.completedAt === undefined) why.set(s.id, 'still running');
  // the chains of what stays: a fixed point (what a delta keeps may be a delta that keeps more)
  let grew = true;
  while (grew) {
    grew = false;
    for (const k of live) {
      if (!why.has(k.id)) continue;
      for (const e of completed) {
        if (why.has(e.id) || !chainNeeds(k, e)) continue;
        why.set(e.id, `needed by the chain of ${formatDsid(k.dsid)} (${k.id})`);
        grew = true;
      }
    }
  }
  const keep: RetentionKeep[] = [];
  const expire: RetentionExpiry[] = [];
  for (const s of [...completed].reverse()) {
    const w = why.get(s.id);
    if (w !== undefined) keep.push({ id: s.id, dsid: s.dsid, why: w });
    else expire.push({ id: s.id, dsid: s.dsid, files: s.files, why: `outside the retention (${rule}) and needed by no kept save` });
  }
  for (const s of live) if (s.completedAt === undefined) keep.push({ id: s.id, dsid: s.dsid, why: why.get(s.id)! });
  return { rule, keep, expire };
}
