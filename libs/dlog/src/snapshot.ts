/**
 * Snapshots of a DLOG state. JSON.stringify(state) already writes plain JSON (BlockSets
 * write themselves as flat range arrays); dlogStateFromJSON reads it back, validating
 * every field so a damaged snapshot is refused (CORRUPT_DATA) instead of half-loaded.
 */
import { BlockSet, validateGeometry, type AreaBlocks, type Geometry } from '@deltaflow/blocks';
import { DEFAULT_DLOG_CONFIG, type AwaitedCapture, type DlogCapture, type DlogState, type FinishedCapture, type Segment } from './dlog';
import { DlogError } from './errors';
import type { UtilityMark } from './marks';

/** Serialise a DLOG state to a JSON-ready plain value. */
export function dlogStateToJSON(state: DlogState): unknown {
  return JSON.parse(JSON.stringify(state));
}

function fail(what: string): never {
  throw new DlogError('CORRUPT_DATA', `DLOG snapshot: ${what}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`${what} must be an object`);
  return v as Record<string, unknown>;
}

function lsnOrNull(v: unknown, what: string): number | null {
  if (v === null) return null;
  if (!Number.isSafeInteger(v) || (v as number) < 0) fail(`${what} must be a non-negative integer or null`);
  return v as number;
}

function areaBlocks(v: unknown, what: string): AreaBlocks {
  const o = obj(v, what);
  return { ASSO: BlockSet.fromJSON(o.ASSO), DATA: BlockSet.fromJSON(o.DATA) };
}

function marks(v: unknown, what: string): UtilityMark[] {
  if (!Array.isArray(v)) fail(`${what} must be an array`);
  return v.map((m, i) => {
    const o = obj(m, `${what}[${i}]`);
    if (!Number.isInteger(o.file) || !Array.isArray(o.parts) || !Array.isArray(o.extents)) fail(`${what}[${i}] is malformed`);
    for (const p of o.parts) if (p !== 'DATA' && p !== 'AC' && p !== 'INDEX') fail(`${what}[${i}] has unknown part ${String(p)}`);
    for (const r of o.extents as unknown[]) {
      const ro = obj(r, `${what}[${i}].extents`);
      if ((ro.part !== 'DATA' && ro.part !== 'AC') || !Number.isInteger(ro.from) || !Number.isInteger(ro.to) || (ro.from as number) > (ro.to as number)) {
        fail(`${what}[${i}] has a malformed extent`);
      }
    }
    return o as unknown as UtilityMark;
  });
}

/** Rebuild a DLOG state from its JSON form; throws CORRUPT_DATA on anything malformed. */
export function dlogStateFromJSON(json: unknown): DlogState {
  const o = obj(json, 'state');
  if (!Number.isInteger(o.dbid) || (o.dbid as number) < 1) fail('dbid must be a positive integer');
  let geometry: Geometry;
  try {
    geometry = validateGeometry(o.geometry);
  } catch (e) {
    fail(`geometry: ${(e as Error).message}`);
  }
  const cfg = { ...DEFAULT_DLOG_CONFIG, ...obj(o.config, 'config') };
  if (!Array.isArray(o.closed) || !Array.isArray(o.finished)) fail('closed and finished must be arrays');
  const awaitingRaw = o.awaiting ?? [];
  if (!Array.isArray(awaitingRaw)) fail('awaiting must be an array');
  const closed: Segment[] = o.closed.map((s, i) => {
    const so = obj(s, `closed[${i}]`);
    const upTo = lsnOrNull(so.upTo, `closed[${i}].upTo`);
    if (upTo === null) fail(`closed[${i}].upTo must be set`);
    return { from: lsnOrNull(so.from, `closed[${i}].from`), upTo, blocks: areaBlocks(so.blocks, `closed[${i}].blocks`), marks: marks(so.marks ?? [], `closed[${i}].marks`) };
  });
  let pending: DlogCapture | null = null;
  if (o.pending !== null) {
    const p = obj(o.pending, 'pending');
    const syncLsn = lsnOrNull(p.syncLsn, 'pending.syncLsn');
    if (typeof p.correlationId !== 'string' || syncLsn === null || typeof p.exact !== 'boolean') fail('pending is malformed');
    pending = { correlationId: p.correlationId, syncLsn, exact: p.exact, blocks: areaBlocks(p.blocks, 'pending.blocks'), marks: marks(p.marks, 'pending.marks') };
  }
  const finished: FinishedCapture[] = o.finished.map((f, i) => {
    const fo = obj(f, `finished[${i}]`);
    if (typeof fo.correlationId !== 'string' || !Number.isSafeInteger(fo.syncLsn) || (fo.outcome !== 'dropped' && fo.outcome !== 'returned')) {
      fail(`finished[${i}] is malformed`);
    }
    return { correlationId: fo.correlationId, syncLsn: fo.syncLsn as number, outcome: fo.outcome };
  });
  const awaiting: AwaitedCapture[] = (awaitingRaw as unknown[]).map((a, i) => {
    const ao = obj(a, `awaiting[${i}]`);
    const syncLsn = lsnOrNull(ao.syncLsn, `awaiting[${i}].syncLsn`);
    if (typeof ao.correlationId !== 'string' || syncLsn === null) fail(`awaiting[${i}] is malformed`);
    return { correlationId: ao.correlationId as string, syncLsn: syncLsn as number };
  });
  return {
    dbid: o.dbid as number,
    geometry: geometry!,
    config: cfg,
    lastLsn: lsnOrNull(o.lastLsn, 'lastLsn'),
    floorLsn: lsnOrNull(o.floorLsn, 'floorLsn'),
    closed,
    openFrom: lsnOrNull(o.openFrom, 'openFrom'),
    open: areaBlocks(o.open, 'open'),
    openMarks: marks(o.openMarks ?? [], 'openMarks'),
    pending,
    awaiting,
    finished,
  };
}
