import * as fs from 'node:fs';
import * as path from 'node:path';
import { AREA_FILES } from '@deltaflow/blockdb';
import { writeFileAtomic } from '@deltaflow/core';
import type { DataSetDescriptor, Dsid } from '@deltaflow/dsid';
import { MergeError } from './errors';

/*
 * Two small JSON files in the target database directory, each written atomically (temp, fsync,
 * rename, fsync dir):
 *
 * restore-restart.json  exists while a restore is in progress. It holds the accepted plan (input
 *   descriptors in apply order), the options, the DSID the database was at before (`after`, for
 *   a shadow), and `applied`: how many plan inputs were completely applied and flushed. Inputs
 *   are applied one after another, so re-applying input `applied` after a crash is idempotent.
 *   While it exists the database is mid-restore and not usable.
 * restore-status.json   the DSID the whole database reflects after the last completed, unrestricted
 *   restore; a shadow's next delta restore must continue it. Removed when a restore starts.
 */
export const RESTART_FILE = 'restore-restart.json';
export const STATUS_FILE = 'restore-status.json';

export interface PlannedInput {
  readonly descriptor: DataSetDescriptor;
  /** kind + DSID: how a resubmitted input is matched to the one applied before */
  readonly identity: string;
}

export interface RestartState {
  readonly version: 1;
  readonly shadow: boolean;
  readonly files: readonly number[] | null;
  readonly includeGcb: boolean;
  readonly after: Dsid | null;
  readonly plan: readonly PlannedInput[];
  readonly applied: number;
}

export interface RestoreStatus {
  readonly version: 1;
  readonly dsid: Dsid;
  readonly shadow: boolean;
  /** modification times (ns) of the area files right after the restore: any later write changes them */
  readonly stamp?: string;
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

function readJson<T>(file: string, check: (v: any) => boolean): T | null {
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
  if (!v || v.version !== 1 || !check(v))
    throw new MergeError('RESTART_IMPOSSIBLE', `${file} is unreadable: repeat the restore with the full save`);
  return v as T;
}

/** The restart state of `dir`, or null when no restore is in progress. */
export function readRestartState(dir: string): RestartState | null {
  return readJson<RestartState>(path.join(dir, RESTART_FILE), (v) => Array.isArray(v.plan) && Number.isInteger(v.applied));
}

/** The restore status of `dir`, or null when unknown. */
export function readRestoreStatus(dir: string): RestoreStatus | null {
  return readJson<RestoreStatus>(path.join(dir, STATUS_FILE), (v) => typeof v.dsid === 'object' && v.dsid !== null);
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
