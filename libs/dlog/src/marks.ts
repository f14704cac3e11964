/**
 * Utility marks: what utilities changed, recorded per file (seed: FCB marks and the
 * file-specific DLOG extension of ADALOD UPDATE).
 *
 * - `whole` parts are marked entirely (e.g. a reorder marks DATA and AC).
 * - `ranges` are RABN ranges of DATA or AC blocks kept in a bounded extension: when more
 *   than `capacity` ranges would be kept, the two closest neighbours of the same part are
 *   merged into one wider range, repeatedly. That saves more blocks than were changed,
 *   never fewer (seed: "the logging information is compressed and more blocks than were
 *   actually modified will be saved").
 * All values are plain, sorted and JSON-ready.
 */
import { DlogError } from './errors';
import { FILE_PARTS, type FilePart, type RabnRange } from './types';

/** The parts that can carry RABN ranges (the index is always marked whole). */
export type RangePart = 'DATA' | 'AC';

/** One range of the per-file extension. */
export interface MarkRange extends RabnRange {
  readonly part: RangePart;
}

/** The marks of one file. `whole` sorted in FILE_PARTS order; `ranges` sorted by (part, from), disjoint, non-adjacent. */
export interface FileMarks {
  readonly file: number;
  readonly whole: readonly FilePart[];
  readonly ranges: readonly MarkRange[];
}

const PART_ORDER: Record<FilePart, number> = { DATA: 0, AC: 1, INDEX: 2 };

function compareMarkRanges(a: MarkRange, b: MarkRange): number {
  return PART_ORDER[a.part] - PART_ORDER[b.part] || a.from - b.from;
}

/** Sort and coalesce overlapping or adjacent ranges of the same part. */
export function normaliseRanges(ranges: readonly MarkRange[]): MarkRange[] {
  const sorted = [...ranges].sort(compareMarkRanges);
  const out: MarkRange[] = [];
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
export function compressRanges(ranges: readonly MarkRange[], capacity: number): MarkRange[] {
  const out = normaliseRanges(ranges);
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
 * Add whole-part marks and ranges to a file's marks. Ranges of a wholly-marked part are
 * dropped (the whole part is saved anyway); any range implies the whole index (seed:
 * "ADALOD UPDATE always changes, and marks as changed, the entire index").
 */
export function addFileMarks(
  existing: FileMarks | undefined,
  file: number,
  whole: readonly FilePart[],
  ranges: readonly MarkRange[],
  capacity: number,
): FileMarks {
  const parts = new Set<FilePart>([...(existing?.whole ?? []), ...whole]);
  if (ranges.length > 0) parts.add('INDEX');
  const keptRanges = [...(existing?.ranges ?? []), ...ranges].filter((r) => !parts.has(r.part));
  return {
    file,
    whole: FILE_PARTS.filter((p) => parts.has(p)),
    ranges: compressRanges(keptRanges, capacity),
  };
}

/** Union two sorted mark lists (e.g. a returned capture back into the live marks). */
export function unionMarks(a: readonly FileMarks[], b: readonly FileMarks[], capacity: number): FileMarks[] {
  const byFile = new Map<number, FileMarks>();
  for (const m of [...a, ...b]) {
    byFile.set(m.file, addFileMarks(byFile.get(m.file), m.file, m.whole, m.ranges, capacity));
  }
  return [...byFile.values()].sort((x, y) => x.file - y.file);
}

/** True if two file marks record the same parts and ranges. */
export function sameFileMarks(a: FileMarks | undefined, b: FileMarks): boolean {
  if (a === undefined) return false;
  return (
    a.file === b.file &&
    a.whole.length === b.whole.length &&
    a.whole.every((p, i) => b.whole[i] === p) &&
    a.ranges.length === b.ranges.length &&
    a.ranges.every((r, i) => r.part === b.ranges[i].part && r.from === b.ranges[i].from && r.to === b.ranges[i].to)
  );
}

/** Replace (or insert) one file's marks in a list sorted by file. */
export function putFileMarks(list: readonly FileMarks[], marks: FileMarks): FileMarks[] {
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
