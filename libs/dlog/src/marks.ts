/**
 * Utility marks: what utilities changed, recorded per file (seed: FCB marks and the
 * file-specific DLOG extension of ADALOD UPDATE).
 *
 * - `parts` are marked entirely (e.g. a reorder marks DATA and AC).
 * - `extents` are RABN ranges of DATA or AC blocks kept in a bounded extension: when more
 *   than `capacity` extents would be kept, the two closest neighbours of the same part are
 *   merged into one wider extent, repeatedly. That saves more blocks than were changed,
 *   never fewer (seed: "the logging information is compressed and more blocks than were
 *   actually modified will be saved"). The index is always marked whole.
 * All values are plain, sorted and JSON-ready.
 */
import { FILE_PARTS, type Extent, type FilePart } from '@deltaflow/blocks';
import { DlogError } from './errors';

/** The marks of one file. `parts` sorted in FILE_PARTS order; `extents` (DATA or AC) sorted by (part, from), disjoint, non-adjacent. */
export interface UtilityMark {
  readonly file: number;
  readonly parts: readonly FilePart[];
  readonly extents: readonly Extent[];
}

const PART_ORDER: Record<FilePart, number> = { DATA: 0, AC: 1, INDEX: 2 };

function compareExtents(a: Extent, b: Extent): number {
  return PART_ORDER[a.part] - PART_ORDER[b.part] || a.from - b.from;
}

/** Sort and coalesce overlapping or adjacent ranges of the same part. */
export function normalizeExtents(ranges: readonly Extent[]): Extent[] {
  const sorted = [...ranges].sort(compareExtents);
  const out: Extent[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.part === r.part && r.from <= last.to + 1) {
      out[out.length - 1] = { part: r.part, from: last.from, to: Math.max(last.to, r.to) };
    } else {
      out.push({ part: r.part, from: r.from, to: r.to });
    }
  }
  return out;
}

/**
 * Compress normalised ranges to at most `capacity` by merging, each time, the adjacent pair
 * (same part) with the smallest gap; ties go to the lowest pair. Never removes a RABN.
 */
export function compressExtents(ranges: readonly Extent[], capacity: number): Extent[] {
  const out = normalizeExtents(ranges);
  // At most one range per part remains mergeable-free: capacity below the number of parts
  // present could not be met, so it is refused when the DLOG is configured (capacity >= 2).
  while (out.length > capacity) {
    let best = -1;
    let bestGap = Infinity;
    for (let i = 0; i + 1 < out.length; i++) {
      if (out[i].part !== out[i + 1].part) continue;
      const gap = out[i + 1].from - out[i].to - 1;
      if (gap < bestGap) {
        bestGap = gap;
        best = i;
      }
    }
    if (best < 0) break;
    out.splice(best, 2, { part: out[best].part, from: out[best].from, to: out[best + 1].to });
  }
  return out;
}

/**
 * Add whole-part marks and extents to a file's marks. Extents of a wholly-marked part are
 * dropped (the whole part is saved anyway); any extent implies the whole index (seed:
 * "ADALOD UPDATE always changes, and marks as changed, the entire index").
 */
export function addUtilityMark(
  existing: UtilityMark | undefined,
  file: number,
  whole: readonly FilePart[],
  extents: readonly Extent[],
  capacity: number,
): UtilityMark {
  const parts = new Set<FilePart>([...(existing?.parts ?? []), ...whole]);
  if (extents.length > 0) parts.add('INDEX');
  const kept = [...(existing?.extents ?? []), ...extents].filter((r) => !parts.has(r.part));
  return { file, parts: FILE_PARTS.filter((p) => parts.has(p)), extents: compressExtents(kept, capacity) };
}

/** Union two sorted mark lists (e.g. a returned capture back into the live marks). */
export function unionMarks(a: readonly UtilityMark[], b: readonly UtilityMark[], capacity: number): UtilityMark[] {
  const byFile = new Map<number, UtilityMark>();
  for (const m of [...a, ...b]) {
    byFile.set(m.file, addUtilityMark(byFile.get(m.file), m.file, m.parts, m.extents, capacity));
  }
  return [...byFile.values()].sort((x, y) => x.file - y.file);
}

/** True if two file marks record the same parts and ranges. */
export function sameUtilityMark(a: UtilityMark | undefined, b: UtilityMark): boolean {
  if (a === undefined) return false;
  return (
    a.file === b.file &&
    a.parts.length === b.parts.length &&
    a.parts.every((p, i) => b.parts[i] === p) &&
    a.extents.length === b.extents.length &&
    a.extents.every((r, i) => r.part === b.extents[i].part && r.from === b.extents[i].from && r.to === b.extents[i].to)
  );
}

/** Replace (or insert) one file's marks in a list sorted by file. */
export function putUtilityMark(list: readonly UtilityMark[], marks: UtilityMark): UtilityMark[] {
  const out = list.filter((m) => m.file !== marks.file);
  out.push(marks);
  return out.sort((x, y) => x.file - y.file);
}

/** Validate that a capacity can hold at least one range per part. */
export function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 2) {
    throw new DlogError('VALIDATION', `extension capacity must be an integer >= 2 (one range per part), got ${String(capacity)}`);
  }
}
