/**
 * BlockSet: an immutable set of RABNs (positive integers), stored as a sparse paged bitmap.
 *
 * Why a paged bitmap and not a sorted range array: the change stream adds single RABNs in
 * random order (20,000/s), and inserting into a sorted array costs a splice proportional to
 * the number of ranges. A bitmap page answers has/add in O(1); pages are allocated only
 * where blocks changed, so memory follows the changed region, not the database size.
 * Updates are copy-on-write at page granularity: `withAll` copies the page directory once
 * and each touched page (512 bytes) once per call, so old values stay valid (deciders keep
 * old states intact) and a batch of changes costs one directory copy.
 *
 * Serialised form (toJSON) is a flat array of inclusive ranges [from1, to1, from2, to2, ...],
 * sorted and non-adjacent: compact for the clustered changes real databases produce.
 */
import type { Area, BlockRange } from './block';
import { BlocksError } from './errors';

/** A RABN range inside the one area a BlockSet is about. */
type Span = Pick<BlockRange, 'from' | 'to'>;

const PAGE_SHIFT = 12;
const PAGE_BITS = 1 << PAGE_SHIFT; // 4096 RABNs per page
const PAGE_WORDS = PAGE_BITS >>> 5; // 128 x 32-bit words

type Page = Uint32Array;

function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Largest RABN accepted: keeps page indexes and bit arithmetic exact. */
export const MAX_RABN = 0x7fffffff;

function checkRabn(rabn: number): void {
  if (!Number.isInteger(rabn) || rabn < 1 || rabn > MAX_RABN) {
    throw new BlocksError('VALIDATION', `RABN must be an integer in 1..${MAX_RABN}, got ${String(rabn)}`, { rabn });
  }
}

/** Set bits [lo, hi] (inclusive, both within one page) in a page, returns how many were newly set. */
function setBitsInPage(page: Page, lo: number, hi: number): number {
  let added = 0;
  let w = lo >>> 5;
  const lastW = hi >>> 5;
  for (; w <= lastW; w++) {
    const startBit = w === lo >>> 5 ? lo & 31 : 0;
    const endBit = w === lastW ? hi & 31 : 31;
    const mask = endBit - startBit === 31 ? 0xffffffff : (((1 << (endBit - startBit + 1)) - 1) << startBit) >>> 0;
    const before = page[w];
    const after = (before | mask) >>> 0;
    if (after !== before) {
      added += popcount(after) - popcount(before);
      page[w] = after;
    }
  }
  return added;
}

export class BlockSet implements Iterable<number> {
  private static readonly EMPTY = new BlockSet([], 0);

  private constructor(
    /** sparse: pages[i] holds RABNs i*4096 .. i*4096+4095; undefined or absent = none */
    private readonly pages: readonly (Page | undefined)[],
    /** number of RABNs in the set */
    readonly size: number,
  ) {}

  /** The empty set. */
  static empty(): BlockSet {
    return BlockSet.EMPTY;
  }

  /** A set holding the given RABNs. */
  static of(rabns: Iterable<number>): BlockSet {
    return BlockSet.EMPTY.withAll(rabns);
  }

  /** A set holding every RABN of the given inclusive ranges. */
  static fromRanges(ranges: Iterable<Span>): BlockSet {
    return BlockSet.EMPTY.withRanges(ranges);
  }

  /** Decode the flat-range form written by toJSON; throws CORRUPT_DATA on anything else. */
  static fromJSON(json: unknown): BlockSet {
    if (!Array.isArray(json) || json.length % 2 !== 0) {
      throw new BlocksError('CORRUPT_DATA', 'block set must be a flat array of [from, to] pairs');
    }
    const ranges: Span[] = [];
    let prevTo = 0;
    for (let i = 0; i < json.length; i += 2) {
      const from = json[i];
      const to = json[i + 1];
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to > MAX_RABN || from > to || (i > 0 && from <= prevTo + 1)) {
        throw new BlocksError('CORRUPT_DATA', `block set range ${i / 2} [${String(from)}, ${String(to)}] is invalid or not sorted`);
      }
      ranges.push({ from, to });
      prevTo = to;
    }
    return BlockSet.fromRanges(ranges);
  }

  /** True if the RABN is in the set. */
  has(rabn: number): boolean {
    const page = this.pages[rabn >>> PAGE_SHIFT];
    if (page === undefined) return false;
    const bit = rabn & (PAGE_BITS - 1);
    return (page[bit >>> 5] & (1 << (bit & 31))) !== 0;
  }

  /** True if the set is empty. */
  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** A set with the given RABNs added (this set is unchanged). */
  withAll(rabns: Iterable<number>): BlockSet {
    const w = new Writer(this.pages);
    let added = 0;
    for (const rabn of rabns) {
      checkRabn(rabn);
      const page = w.page(rabn >>> PAGE_SHIFT);
      const bit = rabn & (PAGE_BITS - 1);
      const mask = 1 << (bit & 31);
      if ((page[bit >>> 5] & mask) === 0) {
        page[bit >>> 5] |= mask;
        added++;
      }
    }
    return added === 0 ? this : new BlockSet(w.pages, this.size + added);
  }

  /** A set with one RABN added. */
  with(rabn: number): BlockSet {
    return this.has(rabn) ? this : this.withAll([rabn]);
  }

  /** A set with every RABN of the given inclusive ranges added. */
  withRanges(ranges: Iterable<Span>): BlockSet {
    const w = new Writer(this.pages);
    let added = 0;
    for (const { from, to } of ranges) {
      checkRabn(from);
      checkRabn(to);
      if (from > to) throw new BlocksError('VALIDATION', `range [${from}, ${to}] has from > to`, { from, to });
      for (let p = from >>> PAGE_SHIFT; p <= to >>> PAGE_SHIFT; p++) {
        const lo = p === from >>> PAGE_SHIFT ? from & (PAGE_BITS - 1) : 0;
        const hi = p === to >>> PAGE_SHIFT ? to & (PAGE_BITS - 1) : PAGE_BITS - 1;
        added += setBitsInPage(w.page(p), lo, hi);
      }
    }
    return added === 0 ? this : new BlockSet(w.pages, this.size + added);
  }

  /** The union of this set and another. */
  union(other: BlockSet): BlockSet {
    if (other.size === 0) return this;
    if (this.size === 0) return other;
    const w = new Writer(this.pages);
    let added = 0;
    other.pages.forEach((src, p) => {
      if (src === undefined) return;
      const mine = this.pages[p];
      if (mine === undefined) {
        // share the other set's page: pages are never mutated once published
        w.adopt(p, src);
        for (let i = 0; i < PAGE_WORDS; i++) added += popcount(src[i]);
        return;
      }
      let differs = false;
      for (let i = 0; i < PAGE_WORDS && !differs; i++) differs = (src[i] & ~mine[i]) !== 0;
      if (!differs) return;
      const page = w.page(p);
      for (let i = 0; i < PAGE_WORDS; i++) {
        const before = page[i];
        const after = (before | src[i]) >>> 0;
        if (after !== before) {
          added += popcount(after) - popcount(before);
          page[i] = after;
        }
      }
    });
    return added === 0 ? this : new BlockSet(w.pages, this.size + added);
  }

  /** True if every RABN of this set is in the other. */
  isSubsetOf(other: BlockSet): boolean {
    if (this.size > other.size) return false;
    for (let p = 0; p < this.pages.length; p++) {
      const mine = this.pages[p];
      if (mine === undefined) continue;
      const theirs = other.pages[p];
      for (let i = 0; i < PAGE_WORDS; i++) {
        if (mine[i] !== 0 && (theirs === undefined || (mine[i] & ~theirs[i]) !== 0)) return false;
      }
    }
    return true;
  }

  /** True if both sets hold the same RABNs. */
  equals(other: BlockSet): boolean {
    return this.size === other.size && this.isSubsetOf(other);
  }

  /** Highest RABN in the set, 0 when empty. */
  max(): number {
    for (let p = this.pages.length - 1; p >= 0; p--) {
      const page = this.pages[p];
      if (page === undefined) continue;
      for (let i = PAGE_WORDS - 1; i >= 0; i--) {
        if (page[i] !== 0) return (p << PAGE_SHIFT) + (i << 5) + (31 - Math.clz32(page[i]));
      }
    }
    return 0;
  }

  /** RABNs in ascending order. */
  *[Symbol.iterator](): Iterator<number> {
    for (let p = 0; p < this.pages.length; p++) {
      const page = this.pages[p];
      if (page === undefined) continue;
      const base = p << PAGE_SHIFT;
      for (let i = 0; i < PAGE_WORDS; i++) {
        let word = page[i];
        while (word !== 0) {
          const low = word & -word;
          yield base + (i << 5) + (31 - Math.clz32(low));
          word = (word ^ low) >>> 0;
        }
      }
    }
  }

  /** Maximal inclusive ranges in ascending order. */
  ranges(): Span[] {
    const out: Span[] = [];
    let from = -1;
    let prev = -2;
    for (const r of this) {
      if (r !== prev + 1) {
        if (from !== -1) out.push({ from, to: prev });
        from = r;
      }
      prev = r;
    }
    if (from !== -1) out.push({ from, to: prev });
    return out;
  }

  /** The set as sorted, joined ranges of `area`. */
  rangesIn(area: Area): BlockRange[] {
    return this.ranges().map((r) => ({ area, from: r.from, to: r.to }));
  }

  /** Flat range form [from1, to1, from2, to2, ...]: what JSON.stringify writes. */
  toJSON(): number[] {
    const out: number[] = [];
    for (const { from, to } of this.ranges()) out.push(from, to);
    return out;
  }
}

/** Copy-on-write page directory: copies the directory once and each page at most once. */
class Writer {
  readonly pages: (Page | undefined)[];
  private readonly owned = new Set<number>();

  constructor(src: readonly (Page | undefined)[]) {
    this.pages = src.slice();
  }

  page(p: number): Page {
    while (this.pages.length <= p) this.pages.push(undefined);
    const existing = this.pages[p];
    if (this.owned.has(p) && existing !== undefined) return existing;
    const copy = existing === undefined ? new Uint32Array(PAGE_WORDS) : existing.slice();
    this.pages[p] = copy;
    this.owned.add(p);
    return copy;
  }

  adopt(p: number, page: Page): void {
    while (this.pages.length <= p) this.pages.push(undefined);
    this.pages[p] = page;
  }
}

/** A set of blocks of a whole database: one BlockSet per area. */
export interface AreaBlocks {
  readonly ASSO: BlockSet;
  readonly DATA: BlockSet;
}

export const EMPTY_AREA_BLOCKS: AreaBlocks = { ASSO: BlockSet.empty(), DATA: BlockSet.empty() };

/** The blocks of the given ranges (any order, overlaps allowed). */
export function areaBlocksOf(ranges: Iterable<BlockRange>): AreaBlocks {
  const by: Record<Area, Span[]> = { ASSO: [], DATA: [] };
  for (const r of ranges) by[r.area].push(r);
  return { ASSO: BlockSet.fromRanges(by.ASSO), DATA: BlockSet.fromRanges(by.DATA) };
}

export function unionAreaBlocks(a: AreaBlocks, b: AreaBlocks): AreaBlocks {
  return { ASSO: a.ASSO.union(b.ASSO), DATA: a.DATA.union(b.DATA) };
}

export function areaBlocksCount(b: AreaBlocks): number {
  return b.ASSO.size + b.DATA.size;
}

/** The blocks as sorted, joined ranges, ASSO first. */
export function areaBlocksToRanges(b: AreaBlocks): BlockRange[] {
  return [...b.ASSO.rangesIn('ASSO'), ...b.DATA.rangesIn('DATA')];
}
