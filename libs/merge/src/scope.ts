import {
  DSST_RABN,
  extentsOf,
  fileRanges,
  findFile,
  GCB_RABN,
  normalizeRanges,
  validateGeometry,
  type BlockRange,
  type Extent,
  type Geometry,
} from '@deltaflow/blocks';
import { MergeError } from './errors';

/**
 * What a restore writes (seed: "it is also possible to specify the GCB, FILE, or FMOVE parameters
 * to restrict the delta restore operation, similar to a conventional restore"). The same shape as
 * the RestoreScope contract of dsf.commands; `gcb` may also name files (Adabas RESTORE GCB restores
 * the general control blocks "and all files specified with the FILES parameter").
 *
 * - `gcb`: the general control blocks: GCB (ASSO 1) and DSST (ASSO 2), this model's counterpart of
 *   Adabas's "GCB and Associator RABNs 2-30" (the model has no checkpoint or security file); plus,
 *   when `files` is given, those files as with `files`. No FCB or FDT of a file not named.
 * - `files`: each file's FCB and FDT and all its extents (DATA, AC, INDEX), at their own RABNs.
 * - `fmove`: like `files`, but each file's data storage goes to other RABNs: its DATA extents, in
 *   order, are written as one contiguous extent starting at DATA RABN `rabn` of the target. FCB,
 *   FDT, address converter and index stay at their RABNs. The new extent must lie inside the DATA
 *   area and must not overlap another file's DATA extents (it may overlap the file's own old ones,
 *   Adabas's "space occupied by files to be overwritten"); two moves must not overlap each other.
 *   The target's header geometry then records the moved extent; the old one becomes free space.
 *   The FCB image is restored as saved: in this model a file's extents live in the geometry (the
 *   header), never in a block image, so header and blocks stay consistent; Deltaflow does not
 *   interpret or rewrite block contents.
 */
export type RestoreScope =
  | { readonly kind: 'gcb'; readonly files?: readonly number[] }
  | { readonly kind: 'files'; readonly files: readonly number[] }
  | { readonly kind: 'fmove'; readonly moves: readonly FileMove[] };

export interface FileMove {
  readonly file: number;
  /** the DATA RABN where the file's data storage starts in the target */
  readonly rabn: number;
}

/** A DATA range of the inputs that lands `delta` RABNs further in the target. */
export interface Shift {
  readonly from: number;
  readonly to: number;
  readonly delta: number;
}

export interface ScopePlan {
  /** normalized scope (files sorted, unique), null for the whole database */
  readonly scope: RestoreScope | null;
  /** the input blocks restored (sorted, joined), null for all */
  readonly only: readonly BlockRange[] | null;
  /** FMOVE: where DATA blocks of the moved files land (sorted by from); empty otherwise */
  readonly shifts: readonly Shift[];
  /** the target's geometry after the restore */
  readonly geometry: Geometry;
}

const isFileNo = (f: unknown): f is number => typeof f === 'number' && Number.isInteger(f) && f >= 1 && f <= 65535;

function fileList(files: unknown, what: string): number[] {
  if (!Array.isArray(files) || files.length === 0 || !files.every(isFileNo))
    throw new MergeError('VALIDATION', `${what} must be a non-empty list of file numbers (1..65535)`);
  return [...new Set(files)].sort((a, b) => a - b);
}

/** Validates a scope against the inputs' geometry `g` and works out what it restores. */
export function planScope(g: Geometry, scope: RestoreScope | undefined | null): ScopePlan {
  if (scope === undefined || scope === null) return { scope: null, only: null, shifts: [], geometry: g };
  const undefinedFile = (f: number): never => {
    throw new MergeError('VALIDATION', `file ${f} is not defined in the database`);
  };
  switch (scope.kind) {
    case 'gcb': {
      const files = scope.files === undefined ? [] : fileList(scope.files, 'gcb files');
      for (const f of files) if (!findFile(g, f)) undefinedFile(f);
      const gcb: BlockRange = { area: 'ASSO', from: GCB_RABN, to: DSST_RABN };
      return {
        scope: files.length ? { kind: 'gcb', files } : { kind: 'gcb' },
        only: normalizeRanges([gcb, ...(files.length ? fileRanges(g, files) : [])]),
        shifts: [],
        geometry: g,
      };
    }
    case 'files': {
      const files = fileList(scope.files, 'files');
      for (const f of files) if (!findFile(g, f)) undefinedFile(f);
      return { scope: { kind: 'files', files }, only: fileRanges(g, files), shifts: [], geometry: g };
    }
    case 'fmove':
      return planMoves(g, scope.moves);
    default:
      throw new MergeError('VALIDATION', `unknown restore scope ${JSON.stringify((scope as { kind?: unknown }).kind)}`);
  }
}

function planMoves(g: Geometry, moves: unknown): ScopePlan {
  if (!Array.isArray(moves) || moves.length === 0) throw new MergeError('VALIDATION', 'fmove needs a non-empty list of {file, rabn}');
  const seen = new Set<number>();
  const shifts: Shift[] = [];
  const landed: { file: number; from: number; to: number }[] = [];
  let files = g.files.map((f) => ({ file: f.file, extents: [...f.extents] }));
  for (const m of moves as FileMove[]) {
    if (typeof m !== 'object' || m === null || !isFileNo(m.file) || !Number.isInteger(m.rabn) || m.rabn < 1)
      throw new MergeError('VALIDATION', `fmove entries are {file: 1..65535, rabn: a DATA RABN >= 1}, got ${JSON.stringify(m)}`);
    if (seen.has(m.file)) throw new MergeError('VALIDATION', `file ${m.file} moved twice`);
    seen.add(m.file);
    const def = findFile(g, m.file);
    if (!def) throw new MergeError('VALIDATION', `file ${m.file} is not defined in the database`);
    const data = extentsOf(def, 'DATA');
    if (data.length === 0) throw new MergeError('VALIDATION', `file ${m.file} has no data storage to move`);
    let at = m.rabn;
    for (const e of data) {
      shifts.push({ from: e.from, to: e.to, delta: at - e.from });
      at += e.to - e.from + 1;
    }
    const to = at - 1;
    if (to > g.data.blocks)
      throw new MergeError('RESTORE_INPUT_INVALID', `file ${m.file}'s data storage (${to - m.rabn + 1} blocks) does not fit at DATA RABN ${m.rabn} (the area has ${g.data.blocks})`);
    for (const other of g.files) {
      if (other.file === m.file) continue;
      const hit = extentsOf(other, 'DATA').find((e) => e.from <= to && m.rabn <= e.to);
      if (hit)
        throw new MergeError(
          'RESTORE_INPUT_INVALID',
          `moving file ${m.file} to DATA ${m.rabn}-${to} would overwrite file ${other.file}'s data storage (${hit.from}-${hit.to})`,
        );
    }
    const clash = landed.find((l) => l.from <= to && m.rabn <= l.to);
    if (clash) throw new MergeError('RESTORE_INPUT_INVALID', `files ${clash.file} and ${m.file} would be moved onto the same DATA RABNs`);
    landed.push({ file: m.file, from: m.rabn, to });
    const moved: Extent = { part: 'DATA', from: m.rabn, to };
    files = files.map((f) => (f.file === m.file ? { file: f.file, extents: [...f.extents.filter((e) => e.part !== 'DATA'), moved] } : f));
  }
  const sortedMoves = [...(moves as FileMove[])].map((m) => ({ file: m.file, rabn: m.rabn })).sort((a, b) => a.file - b.file);
  const list = sortedMoves.map((m) => m.file);
  return {
    scope: { kind: 'fmove', moves: sortedMoves },
    only: fileRanges(g, list),
    shifts: shifts.sort((a, b) => a.from - b.from),
    geometry: validateGeometry({ ...g, files }),
  };
}

/** The target RABN of an input DATA block under `shifts` (unchanged when no shift covers it). */
export function shiftedRabn(shifts: readonly Shift[], rabn: number): number {
  for (const s of shifts) if (rabn >= s.from && rabn <= s.to) return rabn + s.delta;
  return rabn;
}
