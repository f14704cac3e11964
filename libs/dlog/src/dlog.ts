/**
 * The DLOG of one database as an event-sourced decider.
 *
 * What it records: the RABNs changed per area since the last successful save, and the
 * utility marks (whole file parts, or RABN ranges in a bounded per-file extension).
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
import { BlockSet } from './block-set';
import { DlogError } from './errors';
import { findFile, extentsOf, insideExtents, validateGeometry } from './geometry';
import {
  addFileMarks,
  checkCapacity,
  normaliseRanges,
  putFileMarks,
  sameFileMarks,
  unionMarks,
  type FileMarks,
  type MarkRange,
} from './marks';
import { AREAS, FILE_PARTS, type Area, type DatabaseGeometry, type FilePart } from './types';

// ---------------------------------------------------------------------------------------
// State

/** One block set per area. */
export interface AreaBlocks {
  readonly ASSO: BlockSet;
  readonly DATA: BlockSet;
}

/** Blocks changed in (from, upTo]; from === null means "since the beginning" (unknown lower bound). */
export interface Segment {
  readonly from: number | null;
  readonly upTo: number;
  readonly blocks: AreaBlocks;
}

/** What a save took from the DLOG at its start sync. */
export interface DlogCapture {
  readonly saveId: string;
  readonly syncLsn: number;
  /** false when a segment straddled the sync and was conservatively both captured and kept */
  readonly exact: boolean;
  readonly blocks: AreaBlocks;
  readonly marks: readonly FileMarks[];
}

export interface DlogConfig {
  /** ranges kept per file in the utility extension before compression (seed: ADALOD UPDATE extension) */
  readonly extensionCapacity: number;
  /** closed sync segments kept before the two oldest merge */
  readonly maxSegments: number;
  /** finished save ids remembered so repeated Drop/Return are idempotent */
  readonly finishedSavesKept: number;
}

export const DEFAULT_DLOG_CONFIG: DlogConfig = { extensionCapacity: 64, maxSegments: 16, finishedSavesKept: 64 };

export interface FinishedCapture {
  readonly saveId: string;
  readonly syncLsn: number;
  readonly outcome: 'dropped' | 'returned';
}

export interface DlogState {
  readonly dbid: number;
  readonly geometry: DatabaseGeometry;
  readonly config: DlogConfig;
  /** highest LSN recorded by an event (change or sync); null before any */
  readonly lastLsn: number | null;
  /** sync LSN of the last dropped capture: nothing at or below it is live any more */
  readonly floorLsn: number | null;
  /** closed segments, ascending by upTo */
  readonly closed: readonly Segment[];
  /** LSN of the last sync (changes in the open segment are above it); null = from the beginning */
  readonly openFrom: number | null;
  readonly open: AreaBlocks;
  /** live utility marks, sorted by file */
  readonly marks: readonly FileMarks[];
  readonly pending: DlogCapture | null;
  /** most recent last */
  readonly finished: readonly FinishedCapture[];
}

export const EMPTY_AREA_BLOCKS: AreaBlocks = { ASSO: BlockSet.empty(), DATA: BlockSet.empty() };

/** The DLOG of a database nothing has been recorded for. Throws VALIDATION on a bad dbid, geometry or config. */
export function initialState(dbid: number, geometry: DatabaseGeometry, config: Partial<DlogConfig> = {}): DlogState {
  if (!Number.isInteger(dbid) || dbid < 1) throw new DlogError('VALIDATION', `dbid must be a positive integer, got ${String(dbid)}`);
  validateGeometry(geometry);
  // an option given as undefined keeps its default
  const given = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as Partial<DlogConfig>;
  const cfg = { ...DEFAULT_DLOG_CONFIG, ...given };
  checkCapacity(cfg.extensionCapacity);
  for (const k of ['maxSegments', 'finishedSavesKept'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new DlogError('VALIDATION', `config.${k} must be a positive integer`);
  }
  return {
    dbid,
    geometry,
    config: cfg,
    lastLsn: null,
    floorLsn: null,
    closed: [],
    openFrom: null,
    open: EMPTY_AREA_BLOCKS,
    marks: [],
    pending: null,
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
  | ({ readonly type: 'RecordChange' } & BlockChange)
  /** a batch in LSN order (one consumer fetch): one event instead of one per change */
  | { readonly type: 'RecordChanges'; readonly changes: readonly BlockChange[] }
  | { readonly type: 'ObserveSync'; readonly lsn: number; readonly syncId: string }
  | {
      readonly type: 'RecordUtilityChange';
      readonly file: number;
      readonly parts: readonly FilePart[];
      readonly ranges?: readonly MarkRange[];
    }
  | { readonly type: 'CaptureForSave'; readonly saveId: string; readonly syncLsn: number }
  | { readonly type: 'DropCapture'; readonly saveId: string }
  | { readonly type: 'ReturnCapture'; readonly saveId: string }
  | { readonly type: 'UpdateGeometry'; readonly geometry: DatabaseGeometry };

export type DlogEvent =
  /** changes whose blocks were not yet in the open segment; lastLsn = highest LSN of the batch */
  | { readonly type: 'BlocksChanged'; readonly dbid: number; readonly changes: readonly BlockChange[]; readonly lastLsn: number }
  | { readonly type: 'SyncPointRecorded'; readonly dbid: number; readonly lsn: number; readonly syncId: string }
  | {
      readonly type: 'UtilityMarked';
      readonly dbid: number;
      readonly file: number;
      readonly whole: readonly FilePart[];
      readonly ranges: readonly MarkRange[];
    }
  | {
      readonly type: 'DlogCaptured';
      readonly dbid: number;
      readonly saveId: string;
      readonly syncLsn: number;
      readonly exact: boolean;
      readonly assoBlocks: number;
      readonly dataBlocks: number;
      readonly markedFiles: readonly number[];
    }
  | { readonly type: 'CaptureDropped'; readonly dbid: number; readonly saveId: string; readonly syncLsn: number }
  | { readonly type: 'CaptureReturned'; readonly dbid: number; readonly saveId: string; readonly syncLsn: number }
  | { readonly type: 'GeometryUpdated'; readonly dbid: number; readonly geometry: DatabaseGeometry };

// ---------------------------------------------------------------------------------------
// Helpers shared by decide and evolve

function unionBlocks(a: AreaBlocks, b: AreaBlocks): AreaBlocks {
  return { ASSO: a.ASSO.union(b.ASSO), DATA: a.DATA.union(b.DATA) };
}

function blockCount(b: AreaBlocks): number {
  return b.ASSO.size + b.DATA.size;
}

interface Split {
  readonly captured: AreaBlocks;
  readonly keptClosed: readonly Segment[];
  readonly exact: boolean;
}

/** Cut the live DLOG at sync LSN s: segments wholly at or below s are captured, straddling ones go both ways. */
function splitAt(state: DlogState, s: number): Split {
  let captured = EMPTY_AREA_BLOCKS;
  const keptClosed: Segment[] = [];
  let exact = true;
  for (const seg of state.closed) {
    if (seg.upTo <= s) {
      captured = unionBlocks(captured, seg.blocks);
    } else if (seg.from !== null && seg.from >= s) {
      keptClosed.push(seg);
    } else if (blockCount(seg.blocks) > 0) {
      captured = unionBlocks(captured, seg.blocks);
      keptClosed.push(seg);
      exact = false;
    } else {
      keptClosed.push(seg);
    }
  }
  const openAbove = state.openFrom !== null && state.openFrom >= s;
  if (!openAbove && blockCount(state.open) > 0) {
    captured = unionBlocks(captured, state.open);
    exact = false;
  }
  return { captured, keptClosed, exact };
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
  const size = c.area === 'ASSO' ? state.geometry.assoBlocks : state.geometry.dataBlocks;
  if (!Number.isInteger(c.rabn) || c.rabn < 1 || c.rabn > size) {
    throw new DlogError('VALIDATION', `RABN ${String(c.rabn)} is outside ${c.area} 1..${size}`, { area: c.area, rabn: c.rabn });
  }
  checkLsn(c.lsn);
}

function checkSaveId(saveId: string): void {
  if (typeof saveId !== 'string' || saveId.length === 0) throw new DlogError('VALIDATION', 'saveId must be a non-empty string');
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

function decideChanges(changes: readonly BlockChange[], state: DlogState): DlogEvent[] {
  if (!Array.isArray(changes as unknown)) throw new DlogError('VALIDATION', 'changes must be an array');
  let last = state.lastLsn;
  let prev: BlockChange | undefined;
  const out: BlockChange[] = [];
  const added: Record<Area, Set<number>> = { ASSO: new Set(), DATA: new Set() };
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
    if (!state.open[c.area].has(c.rabn) && !added[c.area].has(c.rabn)) {
      added[c.area].add(c.rabn);
      out.push({ area: c.area, rabn: c.rabn, lsn: c.lsn });
    }
  }
  // A batch of changes to blocks already in the open segment yields nothing: lastLsn then lags
  // behind the stream, which is harmless because such changes always land in the open segment.
  if (out.length === 0 || last === null) return [];
  return [{ type: 'BlocksChanged', dbid: state.dbid, changes: out, lastLsn: last }];
}

function decideSync(lsn: number, syncId: string, state: DlogState): DlogEvent[] {
  checkLsn(lsn);
  if (typeof syncId !== 'string' || syncId.length === 0) throw new DlogError('VALIDATION', 'syncId must be a non-empty string');
  const known =
    lsn === state.openFrom || state.closed.some((s) => s.upTo === lsn) || lsn === state.pending?.syncLsn || lsn === state.floorLsn;
  if (known && state.lastLsn !== null && lsn <= state.lastLsn) return []; // redelivered sync
  if (state.lastLsn !== null && lsn < state.lastLsn) throw notIncreasing(lsn, state.lastLsn, { syncId });
  return [{ type: 'SyncPointRecorded', dbid: state.dbid, lsn, syncId }];
}

function decideUtility(
  file: number,
  parts: readonly FilePart[],
  ranges: readonly MarkRange[],
  state: DlogState,
): DlogEvent[] {
  const f = findFile(state.geometry, file);
  if (f === undefined) throw new DlogError('VALIDATION', `file ${String(file)} is not in the geometry of database ${state.dbid}`, { file });
  if (!Array.isArray(parts as unknown) || !Array.isArray(ranges as unknown)) throw new DlogError('VALIDATION', 'parts and ranges must be arrays');
  for (const p of parts) {
    if (!FILE_PARTS.includes(p)) throw new DlogError('VALIDATION', `unknown file part ${String(p)}`, { file, part: p });
  }
  if (parts.length === 0 && ranges.length === 0) throw new DlogError('VALIDATION', `utility change of file ${file} marks nothing`, { file });
  for (const r of ranges) {
    if (r?.part !== 'DATA' && r?.part !== 'AC') throw new DlogError('VALIDATION', `range part must be DATA or AC, got ${String(r?.part)}`, { file });
    if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 1 || r.from > r.to) {
      throw new DlogError('VALIDATION', `range [${String(r.from)}, ${String(r.to)}] is invalid`, { file, range: r });
    }
    if (!insideExtents(extentsOf(f, r.part), r.from, r.to)) {
      throw new DlogError('VALIDATION', `${r.part} range [${r.from}, ${r.to}] is outside the extents of file ${file}`, { file, range: r });
    }
  }
  const existing = state.marks.find((m) => m.file === file);
  const whole = FILE_PARTS.filter((p) => parts.includes(p));
  const next = addFileMarks(existing, file, whole, ranges, state.config.extensionCapacity);
  if (sameFileMarks(existing, next)) return [];
  return [{ type: 'UtilityMarked', dbid: state.dbid, file, whole, ranges: normaliseRanges(ranges) }];
}

function decideCapture(saveId: string, syncLsn: number, state: DlogState): DlogEvent[] {
  checkSaveId(saveId);
  checkLsn(syncLsn);
  const p = state.pending;
  if (p !== null) {
    if (p.saveId === saveId && p.syncLsn === syncLsn) return [];
    throw new DlogError('SAVE_IN_PROGRESS', `save ${p.saveId} holds the DLOG capture of database ${state.dbid}`, { pendingSaveId: p.saveId });
  }
  if (state.finished.some((f) => f.saveId === saveId)) {
    throw new DlogError('ILLEGAL_STATE', `save ${saveId} already finished its capture`, { saveId });
  }
  if (state.lastLsn === null || syncLsn > state.lastLsn) {
    throw new DlogError('SYNC_NOT_SEEN', `sync LSN ${syncLsn} is beyond the DLOG's last LSN ${String(state.lastLsn)}`, {
      syncLsn,
      lastLsn: state.lastLsn,
    });
  }
  if (state.floorLsn !== null && syncLsn < state.floorLsn) {
    throw new DlogError('SYNC_BEFORE_LAST_SAVE', `sync LSN ${syncLsn} is older than the last completed save's sync ${state.floorLsn}`, {
      syncLsn,
      floorLsn: state.floorLsn,
    });
  }
  const split = splitAt(state, syncLsn);
  return [
    {
      type: 'DlogCaptured',
      dbid: state.dbid,
      saveId,
      syncLsn,
      exact: split.exact,
      assoBlocks: split.captured.ASSO.size,
      dataBlocks: split.captured.DATA.size,
      markedFiles: state.marks.map((m) => m.file),
    },
  ];
}

function decideFinish(saveId: string, outcome: 'dropped' | 'returned', state: DlogState): DlogEvent[] {
  checkSaveId(saveId);
  const p = state.pending;
  if (p !== null && p.saveId === saveId) {
    return outcome === 'dropped'
      ? [{ type: 'CaptureDropped', dbid: state.dbid, saveId, syncLsn: p.syncLsn }]
      : [{ type: 'CaptureReturned', dbid: state.dbid, saveId, syncLsn: p.syncLsn }];
  }
  const done = state.finished.find((f) => f.saveId === saveId);
  if (done === undefined) throw new DlogError('NOT_FOUND', `no capture for save ${saveId} in database ${state.dbid}`, { saveId });
  if (done.outcome === outcome) return [];
  throw new DlogError('ILLEGAL_STATE', `capture of save ${saveId} was already ${done.outcome}`, { saveId, outcome: done.outcome });
}

function decideGeometry(geometry: DatabaseGeometry, state: DlogState): DlogEvent[] {
  validateGeometry(geometry);
  const all = [state.open, ...state.closed.map((s) => s.blocks), ...(state.pending ? [state.pending.blocks] : [])];
  for (const area of AREAS) {
    const size = area === 'ASSO' ? geometry.assoBlocks : geometry.dataBlocks;
    const max = Math.max(0, ...all.map((b) => b[area].max()));
    if (max > size) {
      throw new DlogError('VALIDATION', `${area} cannot shrink to ${size} blocks: RABN ${max} is recorded in the DLOG`, { area, max, size });
    }
  }
  return [{ type: 'GeometryUpdated', dbid: state.dbid, geometry }];
}

/** Decide what a command does to the DLOG: the events to record, [] for an idempotent repeat; throws DlogError when rejected. */
export function decide(command: DlogCommand, state: DlogState): DlogEvent[] {
  switch (command.type) {
    case 'RecordChange':
      return decideChanges([{ area: command.area, rabn: command.rabn, lsn: command.lsn }], state);
    case 'RecordChanges':
      return decideChanges(command.changes, state);
    case 'ObserveSync':
      return decideSync(command.lsn, command.syncId, state);
    case 'RecordUtilityChange':
      return decideUtility(command.file, command.parts, command.ranges ?? [], state);
    case 'CaptureForSave':
      return decideCapture(command.saveId, command.syncLsn, state);
    case 'DropCapture':
      return decideFinish(command.saveId, 'dropped', state);
    case 'ReturnCapture':
      return decideFinish(command.saveId, 'returned', state);
    case 'UpdateGeometry':
      return decideGeometry(command.geometry, state);
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
    closed.splice(0, 2, { from: a.from === null || b.from === null ? null : Math.min(a.from, b.from), upTo: b.upTo, blocks: unionBlocks(a.blocks, b.blocks) });
  }
  return closed;
}

function finish(state: DlogState, f: FinishedCapture): readonly FinishedCapture[] {
  const list = [...state.finished.filter((x) => x.saveId !== f.saveId), f];
  return list.slice(Math.max(0, list.length - state.config.finishedSavesKept));
}

function maxLsn(a: number | null, b: number): number {
  return a === null ? b : Math.max(a, b);
}

/** Apply one recorded event to the state (pure: the given state is left unchanged). */
export function evolve(state: DlogState, event: DlogEvent): DlogState {
  switch (event.type) {
    case 'BlocksChanged': {
      const byArea: Record<Area, number[]> = { ASSO: [], DATA: [] };
      for (const c of event.changes) byArea[c.area].push(c.rabn);
      return {
        ...state,
        open: { ASSO: state.open.ASSO.withAll(byArea.ASSO), DATA: state.open.DATA.withAll(byArea.DATA) },
        lastLsn: maxLsn(state.lastLsn, event.lastLsn),
      };
    }
    case 'SyncPointRecorded': {
      const closed = [...state.closed];
      if (blockCount(state.open) > 0) closed.push({ from: state.openFrom, upTo: event.lsn, blocks: state.open });
      return {
        ...state,
        closed: compact(closed, state.config.maxSegments),
        open: EMPTY_AREA_BLOCKS,
        openFrom: event.lsn,
        lastLsn: maxLsn(state.lastLsn, event.lsn),
      };
    }
    case 'UtilityMarked': {
      const existing = state.marks.find((m) => m.file === event.file);
      const next = addFileMarks(existing, event.file, event.whole, event.ranges, state.config.extensionCapacity);
      return { ...state, marks: putFileMarks(state.marks, next) };
    }
    case 'DlogCaptured': {
      const split = splitAt(state, event.syncLsn);
      return {
        ...state,
        closed: split.keptClosed,
        marks: [],
        pending: { saveId: event.saveId, syncLsn: event.syncLsn, exact: split.exact, blocks: split.captured, marks: state.marks },
      };
    }
    case 'CaptureDropped': {
      if (state.pending === null || state.pending.saveId !== event.saveId) return state;
      return {
        ...state,
        pending: null,
        floorLsn: maxLsn(state.floorLsn, state.pending.syncLsn),
        finished: finish(state, { saveId: event.saveId, syncLsn: state.pending.syncLsn, outcome: 'dropped' }),
      };
    }
    case 'CaptureReturned': {
      const p = state.pending;
      if (p === null || p.saveId !== event.saveId) return state;
      // Returned blocks changed at or below the capture's sync: a segment ending there keeps that knowledge.
      const closed = blockCount(p.blocks) > 0 ? [{ from: null, upTo: p.syncLsn, blocks: p.blocks }, ...state.closed] : [...state.closed];
      closed.sort((a, b) => a.upTo - b.upTo);
      return {
        ...state,
        closed: compact(closed, state.config.maxSegments),
        marks: unionMarks(state.marks, p.marks, state.config.extensionCapacity),
        pending: null,
        finished: finish(state, { saveId: event.saveId, syncLsn: p.syncLsn, outcome: 'returned' }),
      };
    }
    case 'GeometryUpdated':
      return { ...state, geometry: event.geometry };
    default: {
      const never: never = event;
      throw new DlogError('VALIDATION', `unknown DLOG event ${JSON.stringify(never)}`);
    }
  }
}

/** The DLOG decider as one value, for generic service wiring. */
export const dlogDecider = { decide, evolve, initialState };

// ---------------------------------------------------------------------------------------
// Queries

/** Every block in the live DLOG (all segments), per area. */
export function liveBlocks(state: DlogState): AreaBlocks {
  return state.closed.reduce((acc, s) => unionBlocks(acc, s.blocks), state.open);
}

/** Counts for reports: live blocks per area, marked files, the pending capture if any. */
export function dlogSummary(state: DlogState): {
  dbid: number;
  lastLsn: number | null;
  live: { ASSO: number; DATA: number };
  markedFiles: number[];
  segments: number;
  pending: { saveId: string; syncLsn: number; ASSO: number; DATA: number; exact: boolean } | null;
} {
  const live = liveBlocks(state);
  const p = state.pending;
  return {
    dbid: state.dbid,
    lastLsn: state.lastLsn,
    live: { ASSO: live.ASSO.size, DATA: live.DATA.size },
    markedFiles: state.marks.map((m) => m.file),
    segments: state.closed.length,
    pending: p === null ? null : { saveId: p.saveId, syncLsn: p.syncLsn, ASSO: p.blocks.ASSO.size, DATA: p.blocks.DATA.size, exact: p.exact },
  };
}
