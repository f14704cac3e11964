import * as fs from 'node:fs';
import * as path from 'node:path';
import { AREA_FILES } from '@deltaflow/blockdb';
import { writeFileAtomic } from '@deltaflow/core';
import type { BlockRange } from '@deltaflow/blocks';
import type { DataSetDescriptor, Dsid } from '@deltaflow/dsid';
import { MergeError } from './errors';
import type { RestoreScope } from './scope';

/*
 * Two small JSON files in the target database directory, each written atomically (temp, fsync,
 * rename, fsync dir):
 *
 * restore-restart.json  exists while a restore is in progress. It holds the accepted plan (input
 *   descriptors in apply order, with their end LSNs), the scope, the DSID the database was at
 *   before (`after`, for a shadow), `applied`: how many plan inputs were completely applied and
 *   flushed, and `written`: the blocks those inputs wrote (so a resumed restore still reports every
 *   block the whole restore wrote). Inputs after `applied` are applied again on a resume, each
 *   block getting its newest image, so re-applying is idempotent. While it exists the database is
 *   mid-restore and not usable. (Version 1 files, with `files`/`includeGcb`, are still read.)
 * restore-status.json   the DSID the whole database reflects after the last completed, unrestricted
 *   restore, and the LSN it stands at (the newest input's end LSN, moved on by REGENERATE); a
 *   shadow's next delta restore must continue it. Removed when a restore starts.
 */
export const RESTART_FILE = 'restore-restart.json';
export const STATUS_FILE = 'restore-status.json';

export interface PlannedInput {
  readonly descriptor: DataSetDescriptor;
  /** kind + DSID: how a resubmitted input is matched to the one applied before */
  readonly identity: string;
  /** the input's end LSN (0 in version 1 files) */
  readonly endLsn?: number;
}

export interface RestartState {
  readonly version: 2;
  readonly shadow: boolean;
  /** the normalized scope, null for the whole database */
  readonly scope: RestoreScope | null;
  readonly after: Dsid | null;
  /** the LSN the shadow stood at before (with `after`) */
  readonly afterLsn?: number;
  readonly plan: readonly PlannedInput[];
  readonly applied: number;
  /** blocks written by the inputs before `applied` (sorted, joined) */
  readonly written: readonly BlockRange[];
}

export interface RestoreStatus {
  readonly version: 1;
  readonly dsid: Dsid;
  readonly shadow: boolean;
  /** modification times (ns) of the area files right after the restore: any later write changes them */
  readonly stamp?: string;
  /** the LSN the database stands at: the newest input's end LSN, or where REGENERATE brought it */
  readonly lsn?: number;
  /** an interrupted REGENERATE from this LSN must be run again before anything else */
  readonly regeneratingFrom?: number;
}

/** What a shadow (or any restored database) reflects: readShadowStatus. */
export interface ShadowStatus {
  readonly dsid: Dsid;
  readonly lsn: number;
  readonly shadow: boolean;
  readonly stamp: string | null;
}

/** Modification stamp of the database's area files (changes with every write by anyone). */
export function areaStamp(dir: string): string {
  return Object.values(AREA_FILES)
    .map((f) => fs.statSync(path.join(dir, f), { bigint: true }).mtimeNs.toString())
    .join('/');
}

/** Identity of an input for restart matching: kind and full DSID (paths may change on resubmission). */
export function identityOf(d: DataSetDescriptor): string {
  const s = d.dsid;
  return `${d.kind}|${s.full}|${s.deltaFrom}|${s.deltaTo}|${s.timestamp}|${s.lineage}`;
}

function readJson<T>(file: string, check: (v: any) => boolean, versions: readonly number[] = [1]): T | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e: any) {
    if (e?.code === 'ENOENT') return null;
    throw e;
  }
  let v: any;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (!v || !versions.includes(v.version) || !check(v))
    throw new MergeError('RESTART_IMPOSSIBLE', `${file} is unreadable: repeat the restore with the full save`);
  return v as T;
}

/** The restart state of `dir`, or null when no restore is in progress. */
export function readRestartState(dir: string): RestartState | null {
  const v = readJson<any>(path.join(dir, RESTART_FILE), (x) => Array.isArray(x.plan) && Number.isInteger(x.applied), [1, 2]);
  if (!v || v.version === 2) return v;
  // Version 1: `files` (+ `includeGcb`) instead of a scope, no written ranges.
  const files: number[] | null = v.files;
  const scope: RestoreScope | null = files ? (v.includeGcb ? { kind: 'gcb', files } : { kind: 'files', files }) : null;
  return { version: 2, shadow: !!v.shadow, scope, after: v.after ?? null, plan: v.plan, applied: v.applied, written: [] };
}

/** The restore status of `dir`, or null when unknown. */
export function readRestoreStatus(dir: string): RestoreStatus | null {
  return readJson<RestoreStatus>(path.join(dir, STATUS_FILE), (v) => typeof v.dsid === 'object' && v.dsid !== null);
}

/**
 * What the database in `dir` reflects after its last completed whole-database restore (or
 * REGENERATE): DSID, LSN, whether it is a shadow, and its area stamp; null when unknown (never
 * restored, mid-restore, or after a restricted restore).
 */
export function readShadowStatus(dir: string): ShadowStatus | null {
  const s = readRestoreStatus(dir);
  if (!s) return null;
  return { dsid: s.dsid, lsn: s.lsn ?? 0, shadow: s.shadow, stamp: s.stamp ?? null };
}

export function writeRestartState(dir: string, s: RestartState): void {
  writeFileAtomic(path.join(dir, RESTART_FILE), JSON.stringify(s));
}

export function writeRestoreStatus(dir: string, s: RestoreStatus): void {
  writeFileAtomic(path.join(dir, STATUS_FILE), JSON.stringify(s));
}

export function removeStateFile(dir: string, name: typeof RESTART_FILE | typeof STATUS_FILE): void {
  fs.rmSync(path.join(dir, name), { force: true });
}
