/** Resolve a DLOG capture into the exact list of blocks a delta save must read. */
import { BlockSet } from './block-set';
import type { AreaBlocks, DlogCapture } from './dlog';
import { DlogError } from './errors';
import { extentsOf, findFile, validateGeometry } from './geometry';
import { areaOfPart, type BlockRef, type DatabaseGeometry } from './types';

/** The blocks of a delta save, sorted by (area, RABN), ASSO first; `count` known before iterating. */
export interface BlocksToSave extends Iterable<BlockRef> {
  readonly count: number;
  readonly blocks: AreaBlocks;
}

/**
 * The blocks a delta save must hold: the captured DLOG RABNs, every block of the utility
 * marks (whole parts via the file extents, ranges as recorded) and the admin blocks,
 * deduplicated and sorted by (area, RABN). Throws VALIDATION when a marked file is not in
 * the geometry or a block lies outside its area: saving less than was marked is never an option.
 */
export function blocksToSave(capture: DlogCapture, geometry: DatabaseGeometry, adminBlocks: Iterable<BlockRef>): BlocksToSave {
  validateGeometry(geometry);
  let asso = capture.blocks.ASSO;
  let data = capture.blocks.DATA;
  for (const m of capture.marks) {
    const f = findFile(geometry, m.file);
    if (f === undefined) {
      throw new DlogError('VALIDATION', `utility marks name file ${m.file}, which is not in the geometry: its blocks cannot be resolved`, {
        file: m.file,
      });
    }
    for (const part of m.whole) {
      if (areaOfPart(part) === 'ASSO') asso = asso.withRanges(extentsOf(f, part));
      else data = data.withRanges(extentsOf(f, part));
    }
    for (const r of m.ranges) {
      if (areaOfPart(r.part) === 'ASSO') asso = asso.withRanges([r]);
      else data = data.withRanges([r]);
    }
  }
  const admin: Record<'ASSO' | 'DATA', number[]> = { ASSO: [], DATA: [] };
  for (const b of adminBlocks) {
    if (b?.area !== 'ASSO' && b?.area !== 'DATA') throw new DlogError('VALIDATION', `admin block has unknown area ${String(b?.area)}`);
    admin[b.area].push(b.rabn);
  }
  asso = asso.withAll(admin.ASSO);
  data = data.withAll(admin.DATA);
  if (asso.max() > geometry.assoBlocks || data.max() > geometry.dataBlocks) {
    throw new DlogError('VALIDATION', `blocks to save exceed the areas (ASSO max ${asso.max()} of ${geometry.assoBlocks}, DATA max ${data.max()} of ${geometry.dataBlocks})`);
  }
  const blocks: AreaBlocks = { ASSO: asso, DATA: data };
  return {
    count: asso.size + data.size,
    blocks,
    *[Symbol.iterator]() {
      for (const rabn of blocks.ASSO) yield { area: 'ASSO', rabn };
      for (const rabn of blocks.DATA) yield { area: 'DATA', rabn };
    },
  };
}

/** The admin-block RABNs as BlockRefs, for callers holding plain ASSO RABNs. */
export function assoBlocks(rabns: Iterable<number>): BlockRef[] {
  return [...BlockSet.of(rabns)].map((rabn) => ({ area: 'ASSO', rabn }));
}
