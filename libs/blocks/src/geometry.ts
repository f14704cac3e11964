/**
 * The shape of a database, one model for every part of Deltaflow (block storage, the DLOG,
 * saves, merges, restores): the size of each area, the file slots, and each file's extents.
 *
 * A file's blocks come in three parts (seed: FCB marks): its data storage (DATA, in the DATA
 * area), its address converter (AC) and its index (INDEX), both in ASSO. An Extent is an
 * inclusive RABN range of one part of one file; utility marks name extents the same way.
 *
 * Admin blocks sit at fixed ASSO RABNs: 1 = GCB, 2 = DSST, then per file slot f (1..maxFiles)
 * FCB at 2f+1 and FDT at 2f+2. So ASSO 1..2+2*maxFiles is the admin region; file extents in
 * ASSO lie above it. Every save holds the admin blocks.
 */
import { areaCode, type Area, type BlockRange, normalizeRanges } from './block';
import { BlocksError } from './errors';

export interface AreaGeometry {
  /** bytes per block, fixed at creation */
  readonly blockSize: number;
  /** number of blocks; RABNs run 1..blocks */
  readonly blocks: number;
}

/** The parts of a file: data storage (DATA area), address converter and index (ASSO). */
export type FilePart = 'DATA' | 'AC' | 'INDEX';
/** Parts in canonical order. */
export const FILE_PARTS: readonly FilePart[] = ['DATA', 'AC', 'INDEX'];

/** An inclusive RABN range of one part of a file. */
export interface Extent {
  readonly part: FilePart;
  readonly from: number;
  readonly to: number;
}

export interface FileDef {
  /** file number, 1..maxFiles */
  readonly file: number;
  /** sorted by (part, from) */
  readonly extents: readonly Extent[];
}

export interface Geometry {
  readonly asso: AreaGeometry;
  readonly data: AreaGeometry;
  readonly maxFiles: number;
  /** sorted by file number */
  readonly files: readonly FileDef[];
}

export const GCB_RABN = 1;
export const DSST_RABN = 2;
/** ASSO RABN of file f's FCB. */
export const fcbRabn = (file: number): number => 2 * file + 1;
/** ASSO RABN of file f's FDT. */
export const fdtRabn = (file: number): number => 2 * file + 2;
/** Number of admin blocks (GCB, DSST, one FCB and one FDT per file slot). */
export const adminBlockCount = (g: Pick<Geometry, 'maxFiles'>): number => 2 + 2 * g.maxFiles;
/** The admin blocks as one range: ASSO 1..2+2*maxFiles. */
export const adminRange = (g: Pick<Geometry, 'maxFiles'>): BlockRange => ({ area: 'ASSO', from: 1, to: adminBlockCount(g) });

/** The area a file part lives in. */
export function partArea(part: FilePart): Area {
  return part === 'DATA' ? 'DATA' : 'ASSO';
}

/** An extent as a block range of its area. */
export function extentRange(e: Extent): BlockRange {
  return { area: partArea(e.part), from: e.from, to: e.to };
}

/** Geometry of one area. */
export function areaGeometry(g: Geometry, area: Area): AreaGeometry {
  return area === 'ASSO' ? g.asso : g.data;
}

const MAX_BLOCKS = 0x7fffffff; // RABNs are stored as u32 in save data sets; keep them positive int32
const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
/** Extent kinds of headers written before the parts got their one name (DS = data storage, IX = index). */
const LEGACY_PART: Record<string, FilePart> = { DS: 'DATA', AC: 'AC', IX: 'INDEX' };

/** Throws VALIDATION with the first problem found; returns a normalized deep copy (files and extents sorted). */
export function validateGeometry(input: unknown): Geometry {
  const bad = (m: string): never => {
    throw new BlocksError('VALIDATION', m);
  };
  if (typeof input !== 'object' || input === null) bad('geometry must be an object');
  const g = input as Record<string, any>;
  const area = (name: string, v: any): AreaGeometry => {
    if (typeof v !== 'object' || v === null) bad(`${name} must be an object`);
    if (!isInt(v.blockSize, 512, 65536) || v.blockSize % 256 !== 0) bad(`${name}.blockSize must be a multiple of 256 in 512..65536, got ${v.blockSize}`);
    if (!isInt(v.blocks, 1, MAX_BLOCKS)) bad(`${name}.blocks must be an integer in 1..${MAX_BLOCKS}, got ${v.blocks}`);
    return { blockSize: v.blockSize, blocks: v.blocks };
  };
  const asso = area('asso', g.asso);
  const data = area('data', g.data);
  if (!isInt(g.maxFiles, 1, 5000)) bad(`maxFiles must be an integer in 1..5000, got ${g.maxFiles}`);
  const maxFiles: number = g.maxFiles;
  const admin = adminBlockCount({ maxFiles });
  if (asso.blocks < admin) bad(`asso.blocks ${asso.blocks} cannot hold ${admin} admin blocks`);
  if (!Array.isArray(g.files)) bad('files must be an array');
  const seen = new Set<number>();
  const files: FileDef[] = [];
  const ranges: BlockRange[] = [];
  for (const f of g.files as any[]) {
    if (typeof f !== 'object' || f === null || !isInt(f.file, 1, maxFiles)) bad(`file number must be in 1..${maxFiles}`);
    if (seen.has(f.file)) bad(`file ${f.file} defined twice`);
    seen.add(f.file);
    if (!Array.isArray(f.extents)) bad(`file ${f.file}: extents must be an array`);
    const extents: Extent[] = [];
    for (const e of f.extents as any[]) {
      const part: FilePart | undefined = typeof e !== 'object' || e === null ? undefined : FILE_PARTS.includes(e.part) ? e.part : LEGACY_PART[e.kind];
      if (part === undefined) bad(`file ${f.file}: extent part must be DATA, AC or INDEX`);
      const a = partArea(part!);
      const lo = a === 'ASSO' ? admin + 1 : 1;
      const hi = a === 'ASSO' ? asso.blocks : data.blocks;
      if (!isInt(e.from, lo, hi) || !isInt(e.to, e.from, hi)) bad(`file ${f.file}: ${part} extent ${e.from}-${e.to} must lie in ${a} ${lo}..${hi} with from <= to`);
      extents.push({ part: part!, from: e.from, to: e.to });
      ranges.push({ area: a, from: e.from, to: e.to });
    }
    extents.sort((x, y) => x.part.localeCompare(y.part) || x.from - y.from);
    files.push({ file: f.file, extents });
  }
  ranges.sort((a, b) => areaCode(a.area) - areaCode(b.area) || a.from - b.from);
  for (let i = 1; i < ranges.length; i++) {
    const p = ranges[i - 1];
    const c = ranges[i];
    if (p.area === c.area && c.from <= p.to) bad(`extents overlap in ${c.area} at RABN ${c.from}`);
  }
  files.sort((x, y) => x.file - y.file);
  return { asso, data, maxFiles, files };
}

/** The file's definition, or undefined when the geometry has no such file. */
export function findFile(g: Geometry, file: number): FileDef | undefined {
  return g.files.find((f) => f.file === file);
}

/** The extents of one part of a file. */
export function extentsOf(f: FileDef, part: FilePart): Extent[] {
  return f.extents.filter((e) => e.part === part);
}

/** True if [from, to] lies entirely inside the union of the extents. */
export function insideExtents(extents: readonly Pick<Extent, 'from' | 'to'>[], from: number, to: number): boolean {
  const sorted = [...extents].sort((a, b) => a.from - b.from);
  let next = from; // first RABN not yet shown to be covered
  for (const e of sorted) {
    if (e.from > next) break;
    if (e.to >= next) next = e.to + 1;
    if (next > to) return true;
  }
  return next > to;
}

/**
 * The "used" blocks of a database, sorted and joined: all admin blocks plus every block inside a
 * file extent. A full save holds exactly these blocks; blocks outside them are free space.
 */
export function usedRanges(g: Geometry): BlockRange[] {
  const r: BlockRange[] = [adminRange(g)];
  for (const f of g.files) for (const e of f.extents) r.push(extentRange(e));
  return normalizeRanges(r);
}

/**
 * Blocks belonging to the given files: their FCB and FDT and all their extents
 * (plus GCB and DSST when `includeGcb`). Throws VALIDATION for a file the geometry does not define.
 */
export function fileRanges(g: Geometry, files: readonly number[], includeGcb = false): BlockRange[] {
  const r: BlockRange[] = [];
  if (includeGcb) r.push({ area: 'ASSO', from: GCB_RABN, to: DSST_RABN });
  for (const n of files) {
    const f = findFile(g, n);
    if (!f) throw new BlocksError('VALIDATION', `file ${n} is not defined in the database`, { file: n });
    r.push({ area: 'ASSO', from: fcbRabn(n), to: fdtRabn(n) });
    for (const e of f.extents) r.push(extentRange(e));
  }
  return normalizeRanges(r);
}

/** True when two geometries describe the same layout (compares normalized forms). */
export function geometryEquals(a: Geometry, b: Geometry): boolean {
  return JSON.stringify(validateGeometry(a)) === JSON.stringify(validateGeometry(b));
}
