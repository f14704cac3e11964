/** The two areas of a protected database. ASSO sorts before DATA everywhere. */
export type Area = 'ASSO' | 'DATA';

/** Areas in their canonical save order. */
export const AREAS: readonly Area[] = ['ASSO', 'DATA'];

/** One block: its area and its 1-based RABN. */
export interface BlockRef {
  readonly area: Area;
  readonly rabn: number;
}

/** An inclusive RABN range, from <= to. */
export interface RabnRange {
  readonly from: number;
  readonly to: number;
}

/** The parts of a file a utility can mark as changed (seed: FCB marks). */
export type FilePart = 'DATA' | 'AC' | 'INDEX';

/** Parts in canonical order. */
export const FILE_PARTS: readonly FilePart[] = ['DATA', 'AC', 'INDEX'];

/** Where a file part lives: data storage in DATA, address converter and index in ASSO. */
export function areaOfPart(part: FilePart): Area {
  switch (part) {
    case 'DATA':
      return 'DATA';
    case 'AC':
    case 'INDEX':
      return 'ASSO';
    default: {
      const never: never = part;
      throw new Error(`unknown file part ${String(never)}`);
    }
  }
}

/** The extents of one file, as recorded in its FCB. */
export interface FileExtents {
  readonly file: number;
  readonly dataExtents: readonly RabnRange[];
  readonly acExtents: readonly RabnRange[];
  readonly indexExtents: readonly RabnRange[];
}

/** Area sizes and file extents of one database: what the DLOG needs to validate and resolve marks. */
export interface DatabaseGeometry {
  readonly assoBlocks: number;
  readonly dataBlocks: number;
  readonly files: readonly FileExtents[];
}

/** Compare two block references in save order: (area, RABN). */
export function compareBlockRefs(a: BlockRef, b: BlockRef): number {
  if (a.area !== b.area) return a.area === 'ASSO' ? -1 : 1;
  return a.rabn - b.rabn;
}
