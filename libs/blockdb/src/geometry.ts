import { BlockDbError } from './errors';

/** The two areas of a database: ASSO (associator) and DATA (data storage). */
export type Area = 'ASSO' | 'DATA';
/** Areas in their canonical order (saves and digests visit ASSO before DATA). */
export const AREAS: readonly Area[] = ['ASSO', 'DATA'];

/** Numeric area code used in binary formats (ASSO = 1, DATA = 2, so codes sort like AREAS). */
export function areaCode(area: Area): 1 | 2 {
  return area === 'ASSO' ? 1 : 2;
}

/** Area for a numeric code, or undefined for anything else. */
export function areaFromCode(code: number): Area | undefined {
  return code === 1 ? 'ASSO' : code === 2 ? 'DATA' : undefined;
}

/** Throws AREA_INVALID unless `area` is 'ASSO' or 'DATA' (for values from outside TypeScript). */
export function assertArea(area: unknown): asserts area is Area {
  if (area !== 'ASSO' && area !== 'DATA') throw new BlockDbError('AREA_INVALID', `unknown area ${JSON.stringify(area)}`);
}

export interface AreaGeometry {
  /** bytes per block, fixed at creation */
  readonly blockSize: number;
  /** number of blocks; RABNs run 1..blocks */
  readonly blocks: number;
}

/** What an extent holds: DS = data storage (DATA area), AC = address converter, IX = index (both ASSO). */
export type ExtentKind = 'DS' | 'AC' | 'IX';

/** An inclusive RABN range owned by a file. */
export interface Extent {
  readonly kind: ExtentKind;
  readonly from: number;
  readonly to: number;
}

export interface FileDef {
  /** file number, 1..maxFiles */
  readonly file: number;
  readonly extents: readonly Extent[];
}

/**
 * Shape of a database. Admin blocks sit at fixed ASSO RABNs:
 * 1 = GCB, 2 = DSST, then per file slot f (1..maxFiles): FCB at 2f+1, FDT at 2f+2.
 * So ASSO 1..2+2*maxFiles is the admin region; file extents in ASSO must lie above it.
 */
export interface Geometry {
  readonly asso: AreaGeometry;
  readonly data: AreaGeometry;
  readonly maxFiles: number;
  readonly files: readonly FileDef[];
}

/** An inclusive RABN range in one area. */
export interface BlockRange {
  readonly area: Area;
  readonly from: number;
  readonly to: number;
}

export const GCB_RABN = 1;
export const DSST_RABN = 2;
/** ASSO RABN of file f's FCB. */
export const fcbRabn = (file: number): number => 2 * file + 1;
/** ASSO RABN of file f's FDT. */
export const fdtRabn = (file: number): number => 2 * file + 2;
/** Number of admin blocks (GCB, DSST, one FCB and one FDT per file slot). */
export const adminBlockCount = (g: Pick<Geometry, 'maxFiles'>): number => 2 + 2 * g.maxFiles;

/** Area of an extent kind. */
export function extentArea(kind: ExtentKind): Area {
  return kind === 'DS' ? 'DATA' : 'ASSO';
}

/** Geometry of one area. */
export function areaGeometry(g: Geometry, area: Area): AreaGeometry {
  return area === 'ASSO' ? g.asso : g.data;
}

const MAX_BLOCKS = 0x7fffffff; // RABNs are stored as u32 in save data sets; keep them positive int32
const isInt = (v: unknown, lo: number, hi: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

/** Throws VALIDATION with the first problem found; returns a normalized deep copy (files and extents sorted). */
export function validateGeometry(input: unknown): Geometry {
  const bad = (m: string): never => {
    throw new BlockDbError('VALIDATION', m);
  };
  if (typeof input !== 'object' || input === null) bad('geometry must be an object');
  const g = input as Record<string, any>;
  const area = (name: string, v: any): AreaGeometry => {
    if (typeof v !== 'object' || v === null) bad(`${name} must be an object`);
    if (!isInt(v.blockSize, 512, 65536) || v.blockSize % 256 !== 0)
      bad(`${name}.blockSize must be a multiple of 256 in 512..65536, got ${v.blockSize}`);
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
      if (typeof e !== 'object' || e === null || (e.kind !== 'DS' && e.kind !== 'AC' && e.kind !== 'IX'))
        bad(`file ${f.file}: extent kind must be DS, AC or IX`);
      const a = extentArea(e.kind);
      const lo = a === 'ASSO' ? admin + 1 : 1;
      const hi = a === 'ASSO' ? asso.blocks : data.blocks;
      if (!isInt(e.from, lo, hi) || !isInt(e.to, e.from, hi))
        bad(`file ${f.file}: ${e.kind} extent ${e.from}-${e.to} must lie in ${a} ${lo}..${hi} with from <= to`);
      extents.push({ kind: e.kind, from: e.from, to: e.to });
      ranges.push({ area: a, from: e.from, to: e.to });
    }
    extents.sort((x, y) => x.kind.localeCompare(y.kind) || x.from - y.from);
    files.push({ file: f.file, extents });
  }
  ranges.sort(compareRange);
  for (let i = 1; i < ranges.length; i++) {
    const p = ranges[i - 1];
    const c = ranges[i];
    if (p.area === c.area && c.from <= p.to) bad(`extents overlap in ${c.area} at RABN ${c.from}`);
  }
  files.sort((x, y) => x.file - y.file);
  return { asso, data, maxFiles, files };
}

function compareRange(a: BlockRange, b: BlockRange): number {
  return areaCode(a.area) - areaCode(b.area) || a.from - b.from;
}

/** Sorts ranges by (area, from) and joins overlapping or adjacent ones. */
export function normalizeRanges(ranges: readonly BlockRange[]): BlockRange[] {
  const s = [...ranges].sort(compareRange);
  const out: BlockRange[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && last.area === r.area && r.from <= last.to + 1) {
      if (r.to > last.to) out[out.length - 1] = { area: last.area, from: last.from, to: r.to };
    } else out.push({ ...r });
  }
  return out;
}

/**
 * The "used" blocks of a database, sorted and joined: all admin blocks plus every block inside a
 * file extent. A full save holds exactly these blocks; blocks outside them are free space.
 */
export function usedRanges(g: Geometry): BlockRange[] {
  const r: BlockRange[] = [{ area: 'ASSO', from: 1, to: adminBlockCount(g) }];
  for (const f of g.files) for (const e of f.extents) r.push({ area: extentArea(e.kind), from: e.from, to: e.to });
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
    const f = g.files.find((x) => x.file === n);
    if (!f) throw new BlockDbError('VALIDATION', `file ${n} is not defined in the database`);
    r.push({ area: 'ASSO', from: fcbRabn(n), to: fdtRabn(n) });
    for (const e of f.extents) r.push({ area: extentArea(e.kind), from: e.from, to: e.to });
  }
  return normalizeRanges(r);
}

/** True when two geometries describe the same layout (compares normalized forms). */
export function geometryEquals(a: Geometry, b: Geometry): boolean {
  return JSON.stringify(validateGeometry(a)) === JSON.stringify(validateGeometry(b));
}

/** True when (area, rabn) lies inside one of the sorted, joined ranges (binary search). */
export function rangesContain(ranges: readonly BlockRange[], area: Area, rabn: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  const ac = areaCode(area);
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid];
    const c = areaCode(r.area) - ac || (rabn < r.from ? 1 : rabn > r.to ? -1 : 0);
    if (c === 0) return true;
    if (c > 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return false;
}
