/** Validation and lookups over a database geometry (area sizes, file extents). */
import { DlogError } from './errors';
import type { DatabaseGeometry, FileExtents, FilePart, RabnRange } from './types';

function checkRanges(what: string, ranges: readonly RabnRange[], areaBlocks: number): void {
  if (!Array.isArray(ranges)) throw new DlogError('VALIDATION', `${what} must be an array of ranges`);
  for (const r of ranges) {
    if (!Number.isInteger(r?.from) || !Number.isInteger(r?.to) || r.from < 1 || r.from > r.to || r.to > areaBlocks) {
      throw new DlogError('VALIDATION', `${what} range [${String(r?.from)}, ${String(r?.to)}] is not inside 1..${areaBlocks}`, {
        range: r,
      });
    }
  }
}

/** Throw VALIDATION unless the geometry is well formed (positive sizes, unique files, extents inside their areas). */
export function validateGeometry(g: DatabaseGeometry): void {
  for (const [name, n] of [
    ['assoBlocks', g?.assoBlocks],
    ['dataBlocks', g?.dataBlocks],
  ] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 0x7fffffff) {
      throw new DlogError('VALIDATION', `geometry.${name} must be a positive integer, got ${String(n)}`);
    }
  }
  if (!Array.isArray(g.files)) throw new DlogError('VALIDATION', 'geometry.files must be an array');
  const seen = new Set<number>();
  for (const f of g.files) {
    if (!Number.isInteger(f?.file) || f.file < 1) throw new DlogError('VALIDATION', `file number must be a positive integer, got ${String(f?.file)}`);
    if (seen.has(f.file)) throw new DlogError('VALIDATION', `file ${f.file} appears twice in the geometry`);
    seen.add(f.file);
    checkRanges(`file ${f.file} dataExtents`, f.dataExtents, g.dataBlocks);
    checkRanges(`file ${f.file} acExtents`, f.acExtents, g.assoBlocks);
    checkRanges(`file ${f.file} indexExtents`, f.indexExtents, g.assoBlocks);
  }
}

/** The extents of one part of a file. */
export function extentsOf(f: FileExtents, part: FilePart): readonly RabnRange[] {
  switch (part) {
    case 'DATA':
      return f.dataExtents;
    case 'AC':
      return f.acExtents;
    case 'INDEX':
      return f.indexExtents;
    default: {
      const never: never = part;
      throw new DlogError('VALIDATION', `unknown file part ${String(never)}`);
    }
  }
}

/** True if [from, to] lies entirely inside the union of the extents. */
export function insideExtents(extents: readonly RabnRange[], from: number, to: number): boolean {
  const sorted = [...extents].sort((a, b) => a.from - b.from);
  let next = from; // first RABN not yet shown to be covered
  for (const e of sorted) {
    if (e.from > next) break;
    if (e.to >= next) next = e.to + 1;
    if (next > to) return true;
  }
  return next > to;
}

/** The file's extents, or undefined when the geometry has no such file. */
export function findFile(g: DatabaseGeometry, file: number): FileExtents | undefined {
  return g.files.find((f) => f.file === file);
}
