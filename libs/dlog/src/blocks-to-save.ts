/**
 * Which blocks a save must hold: the one authority (the change logger computes it when it
 * captures the DLOG for a save; the save writer reads exactly these ranges).
 */
import {
  adminRange,
  areaBlocksOf,
  areaBlocksToRanges,
  extentRange,
  extentsOf,
  findFile,
  normalizeRanges,
  partArea,
  usedRanges,
  type AreaBlocks,
  type BlockAddress,
  type BlockRange,
  type Geometry,
} from '@deltaflow/blocks';
import { DlogError } from './errors';
import type { UtilityMark } from './marks';

/**
 * The blocks of a delta save, sorted by (area, RABN) and joined: the captured DLOG blocks,
 * every block of the utility marks (whole parts via the file's extents, extents as recorded)
 * and the admin blocks (GCB, DSST, FCBs, FDTs), which every save holds. Throws VALIDATION when
 * a marked file is not in the geometry or a block lies outside its area: saving less than was
 * marked is never an option.
 */
export function blocksToSave(capture: { readonly blocks: AreaBlocks; readonly marks: readonly UtilityMark[] }, geometry: Geometry): BlockRange[] {
  const ranges: BlockRange[] = [adminRange(geometry), ...areaBlocksToRanges(capture.blocks)];
  for (const m of capture.marks) {
    const f = findFile(geometry, m.file);
    if (f === undefined) {
      throw new DlogError('VALIDATION', `utility marks name file ${m.file}, which is not in the geometry: its blocks cannot be resolved`, { file: m.file });
    }
    for (const part of m.parts) for (const e of extentsOf(f, part)) ranges.push(extentRange(e));
    for (const e of m.extents) ranges.push({ area: partArea(e.part), from: e.from, to: e.to });
  }
  const out = normalizeRanges(ranges);
  for (const r of out) {
    const size = r.area === 'ASSO' ? geometry.asso.blocks : geometry.data.blocks;
    if (r.to > size) throw new DlogError('VALIDATION', `blocks to save exceed ${r.area} 1..${size} (RABN ${r.to})`, { area: r.area, rabn: r.to });
  }
  return out;
}

/** The blocks of a delta save of the given changed blocks and no utility marks (tests, benchmarks, tools). */
export function deltaBlocks(geometry: Geometry, changed: Iterable<BlockAddress>): BlockRange[] {
  const ranges: BlockRange[] = [];
  for (const b of changed) ranges.push({ area: b.area, from: b.rabn, to: b.rabn });
  return blocksToSave({ blocks: areaBlocksOf(ranges), marks: [] }, geometry);
}

/** The blocks of a full save: every used block (admin blocks and every file extent). */
export function blocksOfFullSave(geometry: Geometry): BlockRange[] {
  return usedRanges(geometry);
}
