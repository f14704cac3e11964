/**
 * Areas, block addresses, block images and block ranges: the vocabulary every Deltaflow part
 * uses for "which blocks". One name per concept:
 *   Area          ASSO (associator) or DATA (data storage)
 *   BlockAddress  one block: (area, RABN)
 *   BlockImage    one block's bytes at its address
 *   BlockRange    an inclusive RABN range in one area
 */
import { BlocksError } from './errors';

/** The two areas of a database: ASSO (associator) and DATA (data storage). */
export type Area = 'ASSO' | 'DATA';
/** Areas in their canonical order: saves, digests and ranges visit ASSO before DATA. */
export const AREAS: readonly Area[] = ['ASSO', 'DATA'];

/** Numeric area code used in binary formats (ASSO = 1, DATA = 2, so codes sort like AREAS). */
export function areaCode(area: Area): 1 | 2 {
  return area === 'ASSO' ? 1 : 2;
}

/** Area for a numeric code, or undefined for anything else. */
export function areaFromCode(code: number): Area | undefined {
  return code === 1 ? 'ASSO' : code === 2 ? 'DATA' : undefined;
}

export function isArea(area: unknown): area is Area {
  return area === 'ASSO' || area === 'DATA';
}

/** Throws AREA_INVALID unless `area` is 'ASSO' or 'DATA' (for values from outside TypeScript). */
export function assertArea(area: unknown): asserts area is Area {
  if (!isArea(area)) throw new BlocksError('AREA_INVALID', `unknown area ${JSON.stringify(area)}`, { area });
}

/** One block of a database: its area and its 1-based RABN. */
export interface BlockAddress {
  readonly area: Area;
  readonly rabn: number;
}

/** One block's image: its address and its bytes (exactly the area's block size). */
export interface BlockImage extends BlockAddress {
  readonly image: Uint8Array;
}

/** An inclusive RABN range in one area, from <= to. */
export interface BlockRange {
  readonly area: Area;
  readonly from: number;
  readonly to: number;
}

/** Orders addresses as saves store them: (area, RABN). */
export function compareBlocks(a: BlockAddress, b: BlockAddress): number {
  return areaCode(a.area) - areaCode(b.area) || a.rabn - b.rabn;
}

/** Orders ranges by (area, from). */
export function compareRanges(a: BlockRange, b: BlockRange): number {
  return areaCode(a.area) - areaCode(b.area) || a.from - b.from;
}

/** Sorts ranges by (area, from) and joins overlapping or adjacent ones. */
export function normalizeRanges(ranges: readonly BlockRange[]): BlockRange[] {
  const s = [...ranges].sort(compareRanges);
  const out: BlockRange[] = [];
  for (const r of s) {
    const last = out[out.length - 1];
    if (last && last.area === r.area && r.from <= last.to + 1) {
      if (r.to > last.to) out[out.length - 1] = { area: last.area, from: last.from, to: r.to };
    } else out.push({ area: r.area, from: r.from, to: r.to });
  }
  return out;
}

/** Number of blocks in ranges that do not overlap (e.g. normalized ones). */
export function rangesBlockCount(ranges: readonly BlockRange[]): number {
  return ranges.reduce((n, r) => n + (r.to - r.from + 1), 0);
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

/** Every address of the ranges, in order. */
export function* addressesIn(ranges: Iterable<BlockRange>): Generator<BlockAddress> {
  for (const r of ranges) for (let rabn = r.from; rabn <= r.to; rabn++) yield { area: r.area, rabn };
}
