/**
 * The DLOG of one database as an event-sourced decider.
 *
 * What it records: the RABNs changed per area since the last successful save, and the
 * utility marks (whole file parts, or extents in a bounded per-file extension).
 *
 * Its events are exactly what the change logger publishes on dsf.dlog (plus `occurredAt`),
 * so the DLOG of a database is a fold of `evolve` over that topic:
 *   DlogRecorded          blocks new to the DLOG and/or utility marks, up to `lsn`
 *   DlogSyncRecorded      an ET sync point (or the nucleus stopping) the DLOG was cut at
 *   DlogCaptureAwaited    a save's capture waits for the change stream to reach its sync
 *   DlogCaptureWithdrawn  that save ended before its sync was reached: nothing captured
 *   DlogCaptured          the DLOG at a save's start sync: `ranges` = every block the save
 *                         must read (blocksToSave), `marks` = the captured utility marks
 *   DlogDropped           the save completed: the captured set is gone
 *   DlogReturned          the save failed: the captured set is back in the DLOG
 *
 * LSN awareness (why segments): a save captures "the DLOG at its start sync s", but the
 * capture command reaches the DLOG after it has already recorded changes with LSN > s;
 * those must stay in the live DLOG. Keeping the last LSN per block is not enough (a block
 * changed both before and after s belongs to both sides) and keeping every LSN per block
 * costs memory per change. Instead the live DLOG is cut at the ET sync points it observes
 * (ObserveSync, fed from the same ordered stream as the changes): each closed segment holds
 * the blocks changed in (from, upTo] of two consecutive syncs, and the open segment those
 * changed after the last sync. A capture at a sync LSN s then takes every segment with
 * upTo <= s and leaves the rest: exact, and within a segment a block is recorded once, so
 * a hot block costs nothing after its first change (that is the "no event if already in
 * the DLOG" rule). Memory is bounded by `maxSegments`: beyond it the two oldest segments
 * merge, which only loses the boundary between them; a capture at a lost boundary (or at
 * an LSN that is not a sync) treats the straddling segment conservatively, putting it in
 * the capture AND keeping it live: more blocks saved, never fewer (`exact: false`).
 */
import {
  areaBlocksCount,
  areaBlocksOf,
  areaBlocksToRanges,
  BlockSet,
  EMPTY_AREA_BLOCKS,
  FILE_PARTS,
  findFile,
  insideExtents,
  extentsOf,
  unionAreaBlocks,
  validateGeometry,
  type Area,
  type AreaBlocks,
  type BlockRange,
  type Extent,
  type FilePart,
  type Geometry,
} from '@deltaflow/blocks';
import type { Decider } from '@deltaflow/core';
import { blocksToSave } from './blocks-to-save';
import { DlogError } from './errors';
import { addUtilityMark, checkCapacity, normalizeExtents, putUtilityMark, sameUtilityMark, unionMarks, type UtilityMark } from './marks';

// ---------------------------------------------------------------------------------------
// State

/**
 * Blocks changed and utility marks recorded in (from, upTo]; from === null means "since the
 * beginning" (unknown lower bound). Marks are cut at sync points exactly like blocks: a utility
 * change recorded after a save's start sync stays live for the next delta.
 */
export interface Segment {
  readonly from: number | null;
  readonly upTo: number;
  readonly blocks: AreaBlocks;
  readonly marks: readonly UtilityMark[];
}

/** What a save took from the DLOG at its start sync. */
export interface DlogCapture {
  /** the correlation id of the save that holds the capture */
  readonly correlationId: string;
  readonly syncLsn: number;
  /** false when a segment straddled the sync and was conservatively both captured and kept */
  readonly exact: boolean;
  readonly blocks: AreaBlocks;
  readonly marks: readonly UtilityMark[];
}

export interface DlogConfig {
  /** extents kept per file in the utility extension before compression (seed: ADALOD UPDATE extension) */
  readonly extensionCapacity: number;
  /** closed sync segments kept before the two oldest merge */
  readonly maxSegments: number;
  /** finished saves remembered so repeated completions and failures are idempotent */
  readonly finishedSavesKept: number;
}

export const DEFAULT_DLOG_CONFIG: DlogConfig = { extensionCapacity: 64, maxSegments: 16, finishedSavesKept: 64 };

export interface FinishedCapture {
  readonly correlationId: string;
  readonly syncLsn: number;
  readonly outcome: 'dropped' | 'returned';
}

/** A save whose start sync the change stream has not reached yet. */
export interface AwaitedCapture {
  readonly correlationId: string;
  readonly syncLsn: number;
}

export interface DlogState {
  readonly dbid: number;
  readonly geometry: Geometry;
  readonly config: DlogConfig;
  /** highest LSN recorded (change, utility change or sync); null before any */
  readonly lastLsn: number | null;
  /** sync LSN of the last dropped capture: nothing at or below it is live any more */
  readonly floorLsn: number | null;
  /** closed segments, ascending by upTo */
  readonly closed: readonly Segment[];
  /** LSN of the last sync (changes in the open segment are above it); null = from the beginning */
  readonly openFrom: number | null;
  readonly open: AreaBlocks;
  /** utility marks recorded after the last sync (the open segment's), sorted by file */
  readonly openMarks: readonly UtilityMark[];
  readonly pending: DlogCapture | null;
  readonly awaiting: readonly AwaitedCapture[];
  /** most recent last */
  readonly finished: readonly FinishedCapture[];
}

/** The DLOG of a database nothing has been recorded for. Throws VALIDATION on a bad dbid, geometry or config. */
export function initialState(dbid: number, geometry: Geometry, config: Partial<DlogConfig> = {}): DlogState {
  if (!Number.isInteger(dbid) || dbid < 1) throw new DlogError('VALIDATION', `dbid must be a positive integer, got ${String(dbid)}`);
  let g: Geometry;
  try {
    g = validateGeometry(geometry);
  } catch (e) {
    throw new DlogError('VALIDATION', (e as Error).message);
  }
  // an option given as undefined keeps its default
  const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as Partial<DlogConfig>;
  const cfg = { ...DEFAULT_DLOG_CONFIG, ...given };
  checkCapacity(cfg.extensionCapacity);
  for (const k of ['maxSegments', 'finishedSavesKept'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new DlogError('VALIDATION', `config.${k} must be a positive integer`);
  }
  return {
    dbid,
    geometry: g,
    config: cfg,
    lastLsn: null,
    floorLsn: null,
    closed: [],
    openFrom: null,
    open: EMPTY_AREA_BLOCKS,
    openMarks: [],
    pending: null,
    awaiting: [],
    finished: [],
  };
}

// ---------------------------------------------------------------------------------------
// Commands and events

/** One block change from the nucleus (the image goes to the PLOG, not here). */
export interface BlockChange {
  readonly area: Area;
  readonly rabn: number;
  readonly lsn: number;
}

export type DlogCommand =
  /** a batch in LSN order (one consumer fetch); `upTo` moves the LSN further without a change (e.g. a NucleusState) */
  | { readonly type: 'RecordChanges'; readonly changes: readonly BlockChange[]; readonly upTo?: number }
  | { readonly type: 'ObserveSync'; readonly lsn: number; readonly syncId: string }
  /** a utility changed whole parts of a file and/or extents of its DATA or AC */
  | { readonly type: 'RecordUtilityChange'; readonly lsn: number; readonly file: number; readonly parts: readonly FilePart[]; readonly extents?: readonly Extent[] }
  /** a save started at its start sync (offline: the LSN at which the nucleus stopped) */
  | { readonly type: 'CaptureForSave'; readonly correlationId: string; readonly syncLsn: number }
  /** captures waiting for a sync the DLOG has reached since */
  | { readonly type: 'ResumeCaptures' }
  | { readonly type: 'EndSave'; readonly correlationId: string; readonly outcome: 'completed' | 'failed'; readonly reason?: string }
  /** a restore wrote these blocks into the database itself (the nucleus stopped): the next delta holds them */
  | { readonly type: 'RecordRestoredBlocks'; readonly ranges: readonly BlockRange[] };

export type DlogEvent =
  | { readonly type: 'DlogRecorded'; readonly dbid: number; readonly lsn: number; readonly ranges: readonly BlockRange[]; readonly marks: readonly UtilityMark[] }
  | { readonly type: 'DlogSyncRecorded'; readonly dbid: number; readonly lsn: number; readonly syncId: string }
  | { readonly type: 'DlogCaptureAwaited'; readonly dbid: number; readonly correlationId: string; readonly syncLsn: number }
  | { readonly type: 'DlogCaptureWithdrawn'; readonly dbid: number; readonly correlationId: string }
  | {
      readonly type: 'DlogCaptured';
      readonly dbid: number;
      readonly correlationId: string;
      readonly syncLsn: number;
      /** every block the save must read, sorted and joined (blocksToSave) */
      readonly ranges: readonly BlockRange[];
      readonly marks: readonly UtilityMark[];
    }
  | { readonly type: 'DlogDropped'; readonly dbid: number; readonly correlationId: string }
  | { readonly type: 'DlogReturned'; readonly dbid: number; readonly correlationId: string; readonly reason: string };

// ---------------------------------------------------------------------------------------
// Helpers shared by decide and evolve

interface Split {
  readonly captured: AreaBlocks;
  readonly marks: readonly UtilityMark[];
  readonly keptClosed: readonly Segment[];
  /** the open segment's marks stay live (they were also captured when the open segment straddles s) */
  readonly exact: boolean;
}

function hasContent(blocks: AreaBlocks, marks: readonly UtilityMark[]): boolean {
  return areaBlocksCount(blocks) > 0 || marks.length > 0;
}

function unionSegmentMarks(state: DlogState, a: readonly UtilityMark[], b: readonly UtilityMark[]): UtilityMark[] {
  return unionMarks(a, b, state.config.extensionCapacity);
}

/** Cut the live DLOG at sync LSN s: segments wholly at or below s are captured, straddling ones go both ways. */
function splitAt(state: DlogState, s: number): Split {
  let captured = EMPTY_AREA_BLOCKS;
  let marks: readonly UtilityMark[] = [];
  const keptClosed: Segment[] = [];
  let exact = true;
  for (const seg of state.closed) {
    if (seg.upTo <= s) {
      captured = unionAreaBlocks(captured, seg.blocks);
      marks = unionSegmentMarks(state, marks, seg.marks);
    } else if (seg.from !== null && seg.from >= s) {
      keptClosed.push(seg);
    } else if (hasContent(seg.blocks, seg.marks)) {
      captured = unionAreaBlocks(captured, seg.blocks);
      marks = unionSegmentMarks(state, marks, seg.marks);
      keptClosed.push(seg);
      exact = false;
    } else {
      keptClosed.push(seg);
    }
  }
  const openAbove = state.openFrom !== null && state.openFrom >= s;
  if (!openAbove && hasContent(state.open, state.openMarks)) {
    captured = unionAreaBlocks(captured, state.open);
    marks = unionSegmentMarks(state, marks, state.openMarks);
    exact = false;
  }
  return { captured, marks, keptClosed, exact };
}

/** True if a change at this LSN to this block is already reflected in a structure covering that LSN. */
function isReflected(state: DlogState, area: Area, rabn: number, lsn: number): boolean {
  if ((state.openFrom === null || lsn > state.openFrom) && state.open[area].has(rabn)) return true;
  for (const seg of state.closed) {
    if ((seg.from === null || lsn > seg.from) && lsn <= seg.upTo && seg.blocks[area].has(rabn)) return true;
  }
  const p = state.pending;
  return p !== null && lsn <= p.syncLsn && p.blocks[area].has(rabn);
}

function checkLsn(lsn: number): void {
  if (!Number.isSafeInteger(lsn) || lsn < 0) throw new DlogError('VALIDATION', `LSN must be a non-negative safe integer, got ${String(lsn)}`, { lsn });
}

function checkChange(state: DlogState, c: BlockChange): void {
  if (c === null || typeof c !== 'object') throw new DlogError('VALIDATION', 'a block change must be an object');
  if (c.area !== 'ASSO' && c.area !== 'DATA') throw new DlogError('VALIDATION', `unknown area ${String(c.area)}`, { area: c.area });
  const size = c.area === 'ASSO' ? state.geometry.asso.blocks : state.geometry.data.blocks;
  if (!Number.isInteger(c.rabn) || c.rabn < 1 || c.rabn > size) {
    throw new DlogError('VALIDATION', `RABN ${String(c.rabn)} is outside ${c.area} 1..${size}`, { area: c.area, rabn: c.rabn });
  }
  checkLsn(c.lsn);
}

function checkCorrelationId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw new DlogError('VALIDATION', 'correlationId must be a non-empty string');
}

function notIncreasing(lsn: number, last: number | null, detail: Record<string, unknown>): DlogError {
  return new DlogError('LSN_NOT_INCREASING', `LSN ${lsn} is not above the last LSN ${String(last)} and is not already recorded`, {
    lsn,
    lastLsn: last,
    ...detail,
  });
}

// ---------------------------------------------------------------------------------------
// decide

function decideChanges(changes: readonly BlockChange[], upTo: number | undefined, state: DlogState): DlogEvent[] {
  if (!Array.isArray(changes as unknown)) throw new DlogError('VALIDATION', 'changes must be an array');
  let last = state.lastLsn;
  let prev: BlockChange | undefined;
  const added: Record<Area, number[]> = { ASSO: [], DATA: [] };
  for (const c of changes) {
    checkChange(state, c);
    if (last !== null && c.lsn <= last) {
      const sameAsPrevious = prev !== undefined && prev.lsn === c.lsn && prev.area === c.area && prev.rabn === c.rabn;
      const belowState = state.lastLsn !== null && c.lsn <= state.lastLsn;
      if (sameAsPrevious || (belowState && isReflected(state, c.area, c.rabn, c.lsn))) continue; // redelivery
      throw notIncreasing(c.lsn, last, { area: c.area, rabn: c.rabn });
    }
    last = c.lsn;
    prev = c;
    if (!state.open[c.area].has(c.rabn)) added[c.area].push(c.rabn);
  }
  if (upTo !== undefined) {
    checkLsn(upTo);
    if (last === null || upTo > last) last = upTo;
  }
  // Nothing above what the DLOG already recorded: a redelivery.
  if (last === null || (state.lastLsn !== null && last <= state.lastLsn)) return [];
  // A block already in the open segment is not recorded again (seed: "no event if already in
  // the DLOG"); the event still says how far the DLOG has read, so a rebuild knows its last LSN.
  const ranges = areaBlocksToRanges({ ASSO: BlockSet.of(added.ASSO), DATA: BlockSet.of(added.DATA) });
  return [{ type: 'DlogRecorded', dbid: state.dbid, lsn: last, ranges, marks: [] }];
}

function decideSync(lsn: number, syncId: string, state: DlogState): DlogEvent[] {
  checkLsn(lsn);
  if (typeof syncId !== 'string' || syncId.length === 0) throw new DlogError('VALIDATION', 'syncId must be a non-empty string');
  const known =
    lsn === state.openFrom || state.closed.some((s) => s.upTo === lsn) || lsn === state.pending?.syncLsn || lsn === state.floorLsn;
  if (known && state.lastLsn !== null && lsn <= state.lastLsn) return []; // redelivered sync
  if (state.lastLsn !== null && lsn < state.lastLsn) throw notIncreasing(lsn, state.lastLsn, { syncId });
  return [{ type: 'DlogSyncRecorded', dbid: state.dbid, lsn, syncId }];
}

function decideUtility(lsn: number, file: number, parts: readonly FilePart[], extents: readonly Extent[], state: DlogState): DlogEvent[] {
  checkLsn(lsn);
  const f = findFile(state.geometry, file);
  if (f === undefined) throw new DlogError('VALIDATION', `file ${String(file)} is not in the geometry of database ${state.dbid}`, { file });
  if (!Array.isArray(parts as unknown) || !Array.isArray(extents as unknown)) throw new DlogError('VALIDATION', 'parts and extents must be arrays');
  for (const p of parts) {
    if (!FILE_PARTS.includes(p)) throw new DlogError('VALIDATION', `unknown file part ${String(p)}`, { file, part: p });
  }
  if (parts.length === 0 && extents.length === 0) throw new DlogError('VALIDATION', `utility change of file ${file} marks nothing`, { file });
  for (const r of extents) {
    if (r?.part !== 'DATA' && r?.part !== 'AC') throw new DlogError('VALIDATION', `an extent of a utility mark is of DATA or AC, got ${String(r?.part)}`, { file });
    if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 1 || r.from > r.to) {
      throw new DlogError('VALIDATION', `extent [${String(r.from)}, ${String(r.to)}] is invalid`, { file, extent: r });
    }
    if (!insideExtents(extentsOf(f, r.part), r.from, r.to)) {
      throw new DlogError('VALIDATION', `${r.part} extent [${r.from}, ${r.to}] is outside the extents of file ${file}`, { file, extent: r });
    }
  }
  if (state.lastLsn !== null && lsn <= state.lastLsn) return []; // redelivery (the caller refuses real reordering)
  // a mark already recorded since the last sync is not recorded again (like a block in the open segment)
  const existing = state.openMarks.find((m) => m.file === file);
  const whole = FILE_PARTS.filter((p) => parts.includes(p));
  const next = addUtilityMark(existing, file, whole, extents, state.config.extensionCapacity);
  const marks = sameUtilityMark(existing, next) ? [] : [{ file, parts: whole, extents: normalizeExtents(extents) }];
  return [{ type: 'DlogRecorded', dbid: state.dbid, lsn, ranges: [], marks }];
}

function capturedEvent(state: DlogState, correlationId: string, syncLsn: number): DlogEvent {
  const split = splitAt(state, syncLsn);
  return {
    type: 'DlogCaptured',
    dbid: state.dbid,
    correlationId,
    syncLsn,
    ranges: blocksToSave({ blocks: split.captured, marks: split.marks }, state.geometry),
    marks: split.marks,
  };
}

function decideCapture(correlationId: string, syncLsn: number, state: DlogState): DlogEvent[] {
  checkCorrelationId(correlationId);
  checkLsn(syncLsn);
  const p = state.pending;
  if (p !== null) {
    if (p.correlationId === correlationId) return [];
    throw new DlogError('SAVE_IN_PROGRESS', `save ${p.correlationId} holds the DLOG capture of database ${state.dbid}`, { pending: p.correlationId });
  }
  // a redelivered SaveStarted of a save that already captured and finished, or already waits
  if (state.finished.some((f) => f.correlationId === correlationId)) return [];
  if (state.awaiting.some((a) => a.correlationId === correlationId)) return [];
  if (state.floorLsn !== null && syncLsn < state.floorLsn) {
    throw new DlogError('SYNC_BEFORE_LAST_SAVE', `sync LSN ${syncLsn} is older than the last completed save's sync ${state.floorLsn}`, {
      syncLsn,
      floorLsn: state.floorLsn,
    });
  }
  if (state.lastLsn === null || syncLsn > state.lastLsn) return [{ type: 'DlogCaptureAwaited', dbid: state.dbid, correlationId, syncLsn }];
  return [capturedEvent(state, correlationId, syncLsn)];
}

function decideResume(state: DlogState): DlogEvent[] {
  if (state.pending !== null || state.lastLsn === null) return [];
  const ready = state.awaiting.find((a) => a.syncLsn <= state.lastLsn!);
  return ready === undefined ? [] : [capturedEvent(state, ready.correlationId, ready.syncLsn)];
}

function decideEnd(correlationId: string, outcome: 'completed' | 'failed', reason: string | undefined, state: DlogState): DlogEvent[] {
  checkCorrelationId(correlationId);
  if (state.awaiting.some((a) => a.correlationId === correlationId)) return [{ type: 'DlogCaptureWithdrawn', dbid: state.dbid, correlationId }];
  const p = state.pending;
  if (p !== null && p.correlationId === correlationId) {
    return outcome === 'completed'
      ? [{ type: 'DlogDropped', dbid: state.dbid, correlationId }]
      : [{ type: 'DlogReturned', dbid: state.dbid, correlationId, reason: reason || 'the save failed' }];
  }
  const done = state.finished.find((f) => f.correlationId === correlationId);
  if (done !== undefined && done.outcome !== (outcome === 'completed' ? 'dropped' : 'returned')) {
    throw new DlogError('ILLEGAL_STATE', `capture of save ${correlationId} was already ${done.outcome}`, { correlationId, outcome: done.outcome });
  }
  return []; // a repeat, or a save that never captured (refused before it started)
}

function decideRestored(ranges: readonly BlockRange[], state: DlogState): DlogEvent[] {
  for (const r of ranges) {
    const size = r.area === 'ASSO' ? state.geometry.asso.blocks : r.area === 'DATA' ? state.geometry.data.blocks : 0;
    if (size === 0 || !Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 1 || r.from > r.to || r.to > size)
      throw new DlogError('VALIDATION', `restored range ${r.area} ${r.from}-${r.to} is outside the database`, { range: r });
  }
  if (ranges.length === 0) return [];
  // the database changed outside the change stream, at the point the stream has reached
  return [{ type: 'DlogRecorded', dbid: state.dbid, lsn: state.lastLsn ?? 0, ranges: areaBlocksToRanges(areaBlocksOf(ranges)), marks: [] }];
}

/** Decide what a command does to the DLOG: the events to record, [] for an idempotent repeat; throws DlogError when rejected. */
export function decide(command: DlogCommand, state: DlogState): DlogEvent[] {
  switch (command.type) {
    case 'RecordChanges':
      return decideChanges(command.changes, command.upTo, state);
    case 'ObserveSync':
      return decideSync(command.lsn, command.syncId, state);
    case 'RecordUtilityChange':
      return decideUtility(command.lsn, command.file, command.parts, command.extents ?? [], state);
    case 'CaptureForSave':
      return decideCapture(command.correlationId, command.syncLsn, state);
    case 'ResumeCaptures':
      return decideResume(state);
    case 'EndSave':
      return decideEnd(command.correlationId, command.outcome, command.reason, state);
    case 'RecordRestoredBlocks':
      return decideRestored(command.ranges, state);
    default: {
      const never: never = command;
      throw new DlogError('VALIDATION', `unknown DLOG command ${JSON.stringify(never)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// evolve

function compact(closed: Segment[], maxSegments: number): Segment[] {
  while (closed.length > maxSegments) {
    const [a, b] = closed;
    closed.splice(0, 2, {
      from: a.from === null || b.from === null ? null : Math.min(a.from, b.from),
      upTo: b.upTo,
      blocks: unionAreaBlocks(a.blocks, b.blocks),
      marks: unionMarks(a.marks, b.marks, Number.MAX_SAFE_INTEGER),
    });
  }
  return closed;
}

function finish(state: DlogState, f: FinishedCapture): readonly FinishedCapture[] {
  const list = [...state.finished.filter((x) => x.correlationId !== f.correlationId), f];
  return list.slice(Math.max(0, list.length - state.config.finishedSavesKept));
}

function maxLsn(a: number | null, b: number): number {
  return a === null ? b : Math.max(a, b);
}

function withoutAwaited(state: DlogState, correlationId: string): readonly AwaitedCapture[] {
  return state.awaiting.filter((a) => a.correlationId !== correlationId);
}

/** Apply one recorded event to the state (pure: the given state is left unchanged). */
export function evolve(state: DlogState, event: DlogEvent): DlogState {
  switch (event.type) {
    case 'DlogRecorded': {
      // events come in LSN order: one below what the DLOG has recorded is a redelivery
      if (state.lastLsn !== null && event.lsn < state.lastLsn) return state;
      const added = areaBlocksOf(event.ranges);
      let openMarks = state.openMarks;
      for (const m of event.marks) {
        const existing = openMarks.find((x) => x.file === m.file);
        openMarks = putUtilityMark(openMarks, addUtilityMark(existing, m.file, m.parts, m.extents, state.config.extensionCapacity));
      }
      return { ...state, open: unionAreaBlocks(state.open, added), openMarks, lastLsn: maxLsn(state.lastLsn, event.lsn) };
    }
    case 'DlogSyncRecorded': {
      if (state.lastLsn !== null && event.lsn < state.lastLsn) return state;
      const closed = [...state.closed];
      if (hasContent(state.open, state.openMarks)) closed.push({ from: state.openFrom, upTo: event.lsn, blocks: state.open, marks: state.openMarks });
      return {
        ...state,
        closed: compact(closed, state.config.maxSegments),
        open: EMPTY_AREA_BLOCKS,
        openMarks: [],
        openFrom: event.lsn,
        lastLsn: maxLsn(state.lastLsn, event.lsn),
      };
    }
    case 'DlogCaptureAwaited':
      if (state.awaiting.some((a) => a.correlationId === event.correlationId) || state.finished.some((f) => f.correlationId === event.correlationId)) return state;
      return { ...state, awaiting: [...state.awaiting, { correlationId: event.correlationId, syncLsn: event.syncLsn }] };
    case 'DlogCaptureWithdrawn':
      return { ...state, awaiting: withoutAwaited(state, event.correlationId) };
    case 'DlogCaptured': {
      // a redelivered capture of a save that is still holding it, or already finished: nothing to do
      if (state.pending?.correlationId === event.correlationId || state.finished.some((f) => f.correlationId === event.correlationId)) return state;
      const split = splitAt(state, event.syncLsn);
      return {
        ...state,
        closed: split.keptClosed,
        awaiting: withoutAwaited(state, event.correlationId),
        pending: { correlationId: event.correlationId, syncLsn: event.syncLsn, exact: split.exact, blocks: split.captured, marks: split.marks },
      };
    }
    case 'DlogDropped': {
      if (state.pending === null || state.pending.correlationId !== event.correlationId) return state;
      return {
        ...state,
        pending: null,
        floorLsn: maxLsn(state.floorLsn, state.pending.syncLsn),
        finished: finish(state, { correlationId: event.correlationId, syncLsn: state.pending.syncLsn, outcome: 'dropped' }),
      };
    }
    case 'DlogReturned': {
      const p = state.pending;
      if (p === null || p.correlationId !== event.correlationId) return state;
      // Returned blocks and marks changed at or below the capture's sync: a segment ending there keeps that knowledge.
      const closed = hasContent(p.blocks, p.marks) ? [{ from: null, upTo: p.syncLsn, blocks: p.blocks, marks: p.marks }, ...state.closed] : [...state.closed];
      closed.sort((a, b) => a.upTo - b.upTo);
      return {
        ...state,
        closed: compact(closed, state.config.maxSegments),
        pending: null,
        finished: finish(state, { correlationId: event.correlationId, syncLsn: p.syncLsn, outcome: 'returned' }),
      };
    }
    default: {
      const never: never = event;
      throw new DlogError('VALIDATION', `unknown DLOG event ${JSON.stringify(never)}`);
    }
  }
}

/** The DLOG decider as one value. */
export const dlogDecider: Decider<DlogCommand, DlogEvent, DlogState, [number, Geometry, Partial<DlogConfig>?]> = { decide, evolve, initialState };

// ---------------------------------------------------------------------------------------
// Queries

/** Every block in the live DLOG (all segments), per area. */
export function liveBlocks(state: DlogState): AreaBlocks {
  return state.closed.reduce((acc, s) => unionAreaBlocks(acc, s.blocks), state.open);
}

/** Every live utility mark (all segments), sorted by file. */
export function liveMarks(state: DlogState): UtilityMark[] {
  return state.closed.reduce<UtilityMark[]>((acc, s) => unionMarks(acc, s.marks, state.config.extensionCapacity), [...state.openMarks]);
}

/** Counts for reports: live blocks per area, marked files, the pending capture if any. */
export function dlogSummary(state: DlogState): {
  dbid: number;
  lastLsn: number | null;
  live: { ASSO: number; DATA: number };
  markedFiles: number[];
  segments: number;
  pending: { correlationId: string; syncLsn: number; ASSO: number; DATA: number; exact: boolean } | null;
} {
  const live = liveBlocks(state);
  const p = state.pending;
  return {
    dbid: state.dbid,
    lastLsn: state.lastLsn,
    live: { ASSO: live.ASSO.size, DATA: live.DATA.size },
    markedFiles: liveMarks(state).map((m) => m.file),
    segments: state.closed.length,
    pending: p === null ? null : { correlationId: p.correlationId, syncLsn: p.syncLsn, ASSO: p.blocks.ASSO.size, DATA: p.blocks.DATA.size, exact: p.exact },
  };
}

/** A geometry that holds any database: for folding recorded DLOG events without knowing the database. */
const VIEW_GEOMETRY: Geometry = { asso: { blockSize: 512, blocks: 0x7fffffff }, data: { blockSize: 512, blocks: 0x7fffffff }, maxFiles: 1, files: [] };

/**
 * The state to fold a database's recorded DLOG events onto when its geometry is not known (a
 * catalog view, a report). `evolve` needs no geometry; `decide` on this state is meaningless.
 */
export function viewState(dbid: number, config: Partial<DlogConfig> = {}): DlogState {
  return { ...initialState(dbid, VIEW_GEOMETRY, config) };
}
