/**
 * DLOG snapshots of any size on dsf.dlog (docs/ARCHITECTURE.md, "Retention"). Pure.
 *
 * A snapshot is the UTF-8 JSON of the state (`dlogStateToJSON`) cut into parts of at most
 * `maxPartBytes` bytes: one DlogSnapshotted per part, all with the same `snapshotId`, part
 * 0..parts-1 in order, published one after the other with nothing of the database in between.
 * A reader joins the parts back (`DlogSnapshotAssembler`) and uses the snapshot only once it has
 * every part; a snapshot missing a part (a crash while it was being published, or a reader that
 * started after its first part) is ignored, and the reader goes on from the state it had, which
 * is the same state: the snapshot only repeats what the events before it say. A DlogSnapshotted
 * without `snapshotId` is the whole state in one record (the format before parts): still read.
 */
import type { DlogState } from './dlog';
import { DlogError } from './errors';
import { dlogStateFromJSON, dlogStateToJSON } from './snapshot';

/** bytes of state per part: with the record's envelope, well below Kafka's 1 MiB message.max.bytes */
export const DLOG_SNAPSHOT_PART_BYTES = 512 * 1024;

export interface DlogSnapshotPart {
  readonly snapshotId: string;
  /** 0-based index of the part */
  readonly part: number;
  /** how many parts the snapshot has (>= 1) */
  readonly parts: number;
  readonly state: Buffer;
}

/** A DlogSnapshotted as read from dsf.dlog (without the fields a reader does not need). */
export interface DlogSnapshotRecord {
  readonly dbid: number;
  readonly snapshotId?: string;
  readonly part?: number;
  readonly parts?: number;
  readonly state: Uint8Array;
}

/** Cuts the snapshot of `state` into parts of at most maxPartBytes bytes (at least one part). */
export function splitDlogSnapshot(state: DlogState, snapshotId: string, maxPartBytes: number = DLOG_SNAPSHOT_PART_BYTES): DlogSnapshotPart[] {
  if (!Number.isSafeInteger(maxPartBytes) || maxPartBytes < 1) throw new RangeError(`maxPartBytes must be an integer >= 1, got ${maxPartBytes}`);
  if (snapshotId.length === 0) throw new RangeError('snapshotId must not be empty');
  const bytes = Buffer.from(JSON.stringify(dlogStateToJSON(state)), 'utf8');
  const parts = Math.max(1, Math.ceil(bytes.length / maxPartBytes));
  return Array.from({ length: parts }, (_, part) => ({ snapshotId, part, parts, state: bytes.subarray(part * maxPartBytes, (part + 1) * maxPartBytes) }));
}

/** Joins every part of one snapshot (any order) back into the state; CORRUPT_DATA if one is missing, repeated differently or foreign. */
export function joinDlogSnapshot(parts: readonly DlogSnapshotPart[]): DlogState {
  if (parts.length === 0) throw new DlogError('CORRUPT_DATA', 'DLOG snapshot: no parts');
  const { snapshotId, parts: n } = parts[0];
  const byIndex = new Map<number, Buffer>();
  for (const p of parts) {
    if (p.snapshotId !== snapshotId) throw new DlogError('CORRUPT_DATA', `DLOG snapshot ${snapshotId}: a part of snapshot ${p.snapshotId} is among its parts`);
    checkPart(p.snapshotId, p.part, p.parts);
    if (p.parts !== n) throw new DlogError('CORRUPT_DATA', `DLOG snapshot ${snapshotId}: parts disagree on their count (${n}, ${p.parts})`);
    const seen = byIndex.get(p.part);
    if (seen !== undefined && !seen.equals(p.state)) throw new DlogError('CORRUPT_DATA', `DLOG snapshot ${snapshotId}: part ${p.part} comes twice with different bytes`);
    byIndex.set(p.part, Buffer.from(p.state));
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) throw new DlogError('CORRUPT_DATA', `DLOG snapshot ${snapshotId}: part(s) ${missing.join(', ')} of ${n} missing`);
  const bytes = Buffer.concat(Array.from({ length: n }, (_, i) => byIndex.get(i)!));
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new DlogError('CORRUPT_DATA', `DLOG snapshot ${snapshotId}: not JSON once joined (${(e as Error).message})`);
  }
  return dlogStateFromJSON(json);
}

function checkPart(snapshotId: string, part: number, parts: number): void {
  if (!Number.isSafeInteger(parts) || parts < 1) throw new DlogError('CORRUPT_DATA', `DLOG snapshot ${snapshotId}: parts must be an integer >= 1, got ${parts}`);
  if (!Number.isSafeInteger(part) || part < 0 || part >= parts) throw new DlogError('CORRUPT_DATA', `DLOG snapshot ${snapshotId}: part must be in 0..${parts - 1}, got ${part}`);
}

/**
 * Gathers the parts of DLOG snapshots as a reader folds dsf.dlog, per database: `add` returns the
 * state once the last missing part of a snapshot arrives (or at once for a single-record snapshot
 * of the old format), null before. Parts repeated by a redelivery are taken once. A part of
 * another snapshot, or any other DLOG event of the database (`interrupt`), drops the parts
 * gathered so far: that snapshot is incomplete and never used.
 */
export class DlogSnapshotAssembler {
  private readonly gathering = new Map<number, { snapshotId: string; parts: number; got: Map<number, DlogSnapshotPart> }>();

  add(r: DlogSnapshotRecord): DlogState | null {
    if (r.snapshotId === undefined) {
      this.gathering.delete(r.dbid);
      let json: unknown;
      try {
        json = JSON.parse(Buffer.from(r.state).toString('utf8'));
      } catch (e) {
        throw new DlogError('CORRUPT_DATA', `DLOG snapshot of database ${r.dbid}: not JSON (${(e as Error).message})`);
      }
      return dlogStateFromJSON(json);
    }
    if (r.part === undefined || r.parts === undefined) throw new DlogError('CORRUPT_DATA', `DLOG snapshot ${r.snapshotId} of database ${r.dbid}: part and parts must be set with snapshotId`);
    checkPart(r.snapshotId, r.part, r.parts);
    let g = this.gathering.get(r.dbid);
    if (g === undefined || g.snapshotId !== r.snapshotId || g.parts !== r.parts) {
      g = { snapshotId: r.snapshotId, parts: r.parts, got: new Map() };
      this.gathering.set(r.dbid, g);
    }
    g.got.set(r.part, { snapshotId: r.snapshotId, part: r.part, parts: r.parts, state: Buffer.from(r.state) });
    if (g.got.size < g.parts) return null;
    this.gathering.delete(r.dbid);
    return joinDlogSnapshot([...g.got.values()]);
  }

  /** Another DLOG event of the database: a snapshot still being gathered is incomplete. */
  interrupt(dbid: number): void {
    this.gathering.delete(dbid);
  }

  /** Databases with parts gathered and not yet complete (for tests and logs). */
  incomplete(): ReadonlyArray<{ dbid: number; snapshotId: string; have: number; parts: number }> {
    return [...this.gathering].map(([dbid, g]) => ({ dbid, snapshotId: g.snapshotId, have: g.got.size, parts: g.parts }));
  }

  reset(): void {
    this.gathering.clear();
  }
}
