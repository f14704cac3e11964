import { DsidParseError } from './errors';

/*
 * Lineage representation (chosen so that every input check stays pure: no catalog lookup).
 *
 *   lineage := root fork*
 *   root    := [A-Za-z0-9_-]{1,40}            -- started by a full save (derived from its DSID)
 *   fork    := '>' full ':' delta '#' branch   -- a restore of the save at point full/delta of the
 *                                                 lineage to its left; branch = the database's restore
 *                                                 ordinal, so two restores of one point differ
 *
 * Example (the seed's "invalid merge"): full 1/0/t1 starts root `A`; delta 1/1/t2 is on `A`;
 * restoring the full forks `A>1:0#1`; deltas 1/1/t3 and 1/2/t4 are on `A>1:0#1`.
 *
 * A save lies on the history of branch B iff its lineage equals B, or its lineage is a proper
 * prefix of B and the first fork of B beyond it was taken at a point (f, d) with the save's
 * full number f and delta number ≤ d (the save existed before the restored status). So 1/0/t1
 * (on A, delta 0 ≤ 0) is on the history of `A>1:0#1`, while 1/1/t2 (on A, delta 1 > 0) is not.
 */

/** A fork point recorded in a lineage path. */
export interface LineageFork {
  readonly full: number;
  readonly delta: number;
  readonly branch: number;
}

/** A lineage string split into its root and its forks, oldest first. */
export interface LineagePath {
  readonly root: string;
  readonly forks: readonly LineageFork[];
}

const ROOT = /^[A-Za-z0-9_-]{1,40}$/;
const FORK = /^(0|[1-9]\d{0,14}):(0|[1-9]\d{0,14})#([1-9]\d{0,14})$/;
/** Restores are rare; a cap keeps a hostile lineage text from costing unbounded work. */
export const MAX_LINEAGE_LENGTH = 2048;

/** Parses a lineage string; throws DsidParseError naming what is wrong. */
export function parseLineage(text: string): LineagePath {
  if (text.length === 0) throw new DsidParseError('lineage is empty', 'lineage');
  if (text.length > MAX_LINEAGE_LENGTH)
    throw new DsidParseError(`lineage longer than ${MAX_LINEAGE_LENGTH} characters`, 'lineage');
  const [root, ...rest] = text.split('>');
  if (!ROOT.test(root)) throw new DsidParseError(`lineage root "${root}" must match [A-Za-z0-9_-]{1,40}`, 'lineage');
  const forks = rest.map((part) => {
    const m = FORK.exec(part);
    if (!m) throw new DsidParseError(`lineage fork "${part}" must be <full>:<delta>#<branch>`, 'lineage');
    return { full: Number(m[1]), delta: Number(m[2]), branch: Number(m[3]) };
  });
  return { root, forks };
}

/** Prints a lineage path; the inverse of parseLineage. */
export function formatLineage(path: LineagePath): string {
  return path.root + path.forks.map((f) => `>${f.full}:${f.delta}#${f.branch}`).join('');
}

/** The root lineage a full save starts, derived from its full number and time stamp (unique per database because time stamps ascend). */
export function rootLineage(full: number, timestamp: number): string {
  return `F${full}T${timestamp.toString(36).toUpperCase()}`;
}

/** The lineage of the branch created by restoring the save at (full, delta) of `parent`, as the database's `branch`-th restore. */
export function forkLineage(parent: string, full: number, delta: number, branch: number): string {
  parseLineage(parent);
  return `${parent}>${full}:${delta}#${branch}`;
}

/**
 * True if a save with the given full number, last delta number and lineage is part of the
 * history of `branch` (see the representation comment above).
 */
export function isOnHistoryOf(save: { full: number; deltaTo: number; lineage: string }, branch: string): boolean {
  if (save.lineage === branch) return true;
  if (!branch.startsWith(save.lineage + '>')) return false;
  const next = parseLineage(branch).forks[parseLineage(save.lineage).forks.length];
  return next.full === save.full && save.deltaTo <= next.delta;
}
