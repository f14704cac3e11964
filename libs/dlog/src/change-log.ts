/**
 * The change log: the DLOG of every protected database driven from the upstream change
 * stream, without Kafka. Per database it keeps the DLOG (the decider in dlog.ts) and what
 * upstream validation needs (last LSN, recent fingerprints for duplicate detection).
 *
 * Input is the upstream's records (dsf.block-changes) and the save outcomes (dsf.events);
 * output is the PLOG (an image per accepted block change, a sync marker per ET sync) and the
 * DLOG events, which the change logger publishes as they are (dsf.dlog). Work is prepared on
 * copies and committed only once its output is durably published, so a failed publish
 * followed by a redelivery of the same records recomputes the same output instead of taking
 * the records for duplicates.
 *
 * Rules beyond the decider's:
 * - a block change is refused for an unknown database (UNKNOWN_DBID), a RABN outside its area
 *   (RABN_OUT_OF_RANGE), an image that is not the area's block size (IMAGE_LENGTH), an LSN not
 *   above the last one (LSN_NOT_INCREASING) unless it is an exact repeat (then a duplicate);
 * - a utility change's ranges are resolved to extents of the file (DATA ranges to DATA; ASSO
 *   ranges to AC, or to the whole INDEX); a range outside the file is refused (VALIDATION);
 * - NucleusState{active: false} is a sync point (the database is consistent there): it cuts the
 *   DLOG like an ET sync (syncId "inactive@<lsn>"), so an offline save captures exactly there.
 */
import { createHash } from 'node:crypto';
import { insideExtents, extentsOf, findFile, type Area, type BlockRange, type Extent, type FilePart, type Geometry } from '@deltaflow/blocks';
import { decide, evolve, initialState, type BlockChange, type DlogConfig, type DlogEvent, type DlogState } from './dlog';
import { DlogError } from './errors';

/** What an upstream database engine publishes (dsf.block-changes). */
export type UpstreamRecord =
  | { readonly type: 'BlockChanged'; readonly dbid: number; readonly lsn: number; readonly area: Area; readonly rabn: number; readonly txn: number; readonly image: Uint8Array }
  | { readonly type: 'EtSync'; readonly dbid: number; readonly lsn: number; readonly syncId: string }
  | {
      readonly type: 'UtilityChanged';
      readonly dbid: number;
      readonly lsn: number;
      readonly file: number;
      readonly parts: readonly FilePart[];
      readonly ranges?: readonly BlockRange[];
    }
  | { readonly type: 'NucleusState'; readonly dbid: number; readonly lsn: number; readonly active: boolean; readonly at: number };

/** The PLOG: after-images of changed blocks and the sync points between them, in LSN order per database. */
export type PlogEntry =
  | { readonly type: 'PlogImage'; readonly dbid: number; readonly area: Area; readonly rabn: number; readonly lsn: number; readonly image: Uint8Array }
  | { readonly type: 'PlogSync'; readonly dbid: number; readonly lsn: number; readonly syncId: string };

/** The save outcomes the DLOG follows (dsf.events), and restores into the database itself. */
export type SaveOutcome =
  | { readonly type: 'SaveStarted'; readonly dbid: number; readonly correlationId: string; readonly startLsn?: number }
  | { readonly type: 'SaveCompleted'; readonly dbid: number; readonly correlationId: string }
  | { readonly type: 'SaveFailed'; readonly dbid: number; readonly correlationId: string; readonly reason: string }
  | { readonly type: 'RestoreCompleted'; readonly dbid: number; readonly correlationId: string; readonly intoDatabase?: boolean; readonly ranges?: readonly BlockRange[] };

/** A protected database: its id and geometry. */
export interface ProtectedDatabase {
  readonly dbid: number;
  readonly geometry: Geometry;
}

/** Why an upstream record was refused. */
export interface Rejection {
  readonly index: number;
  readonly code: string;
  readonly message: string;
  readonly field?: string;
}

export interface Prepared {
  /** publish FIRST: PlogImage / PlogSync in LSN order per database */
  readonly plog: PlogEntry[];
  /** publish AFTER the PLOG: DLOG events in the order they were folded */
  readonly dlog: DlogEvent[];
  readonly rejected: Rejection[];
  readonly duplicates: number;
  /** make the prepared state current (call after both publishes succeeded) */
  commit(): void;
}

export interface Outcome {
  readonly dlog: DlogEvent[];
  /** a capture the DLOG could not take (e.g. another save holds it); the caller reports it */
  readonly refused?: DlogError;
  commit(): void;
}

interface Entry {
  readonly dbid: number;
  readonly geometry: Geometry;
  dlog: DlogState;
  /** highest LSN accepted from upstream (any record type) */
  lastLsn: number;
  /** highest LSN recorded before this process started: anything at or below it was already applied */
  watermark: number;
  /** LSN -> fingerprint of recently accepted upstream records (exact-duplicate detection) */
  recent: Map<number, string>;
}

const RECENT_KEPT = 200_000;

function fingerprint(m: UpstreamRecord): string {
  switch (m.type) {
    case 'BlockChanged':
      return `B:${m.area}:${m.rabn}:${m.txn}:${createHash('sha1').update(m.image).digest('base64')}`;
    case 'EtSync':
      return `S:${m.syncId}`;
    case 'UtilityChanged':
      return `U:${JSON.stringify([m.file, m.parts, m.ranges ?? null])}`;
    case 'NucleusState':
      return `N:${m.active}:${m.at}`;
    default: {
      const never: never = m;
      throw new DlogError('VALIDATION', `unknown upstream record ${JSON.stringify(never)}`);
    }
  }
}

/**
 * A utility change as the upstream reports it (whole parts, RABN ranges by area) resolved
 * against the file's extents: DATA ranges mark DATA extents, ASSO ranges mark AC extents or
 * the whole INDEX. Returns the reason as a string when a range lies outside the file.
 */
export function resolveUtilityChange(
  geometry: Geometry,
  file: number,
  parts: readonly FilePart[],
  ranges: readonly BlockRange[] = [],
): { parts: FilePart[]; extents: Extent[] } | string {
  const f = findFile(geometry, file);
  if (f === undefined) return `file ${file} is not in the geometry`;
  const extents: Extent[] = [];
  const whole = new Set<FilePart>(parts);
  for (const r of ranges) {
    if (r.area === 'DATA') {
      if (!insideExtents(extentsOf(f, 'DATA'), r.from, r.to)) return `DATA range ${r.from}-${r.to} is outside the data storage of file ${file}`;
      extents.push({ part: 'DATA', from: r.from, to: r.to });
      whole.delete('DATA');
    } else if (insideExtents(extentsOf(f, 'AC'), r.from, r.to)) {
      extents.push({ part: 'AC', from: r.from, to: r.to });
      whole.delete('AC');
    } else if (insideExtents(extentsOf(f, 'INDEX'), r.from, r.to)) {
      whole.add('INDEX'); // the index is always marked whole
    } else {
      return `ASSO range ${r.from}-${r.to} is outside the address converter and index of file ${file}`;
    }
  }
  return { parts: [...whole], extents };
}

function cloneEntry(e: Entry): Entry {
  return { ...e };
}

export class ChangeLog {
  private readonly dbs = new Map<number, Entry>();

  constructor(
    private readonly databases: readonly ProtectedDatabase[],
    private readonly config: Partial<DlogConfig> = {},
  ) {
    this.reset();
  }

  /**
   * Every database back to its initial state, before a rebuild from the log (at start, and when
   * the databases this instance owns change: their state is folded again from dsf.dlog).
   */
  reset(): void {
    this.dbs.clear();
    for (const d of this.databases) {
      const dlog = initialState(d.dbid, d.geometry, this.config);
      this.dbs.set(d.dbid, { dbid: d.dbid, geometry: dlog.geometry, dlog, lastLsn: 0, watermark: 0, recent: new Map() });
    }
  }

  /** The DLOG state of a database (for queries and tests). */
  state(dbid: number): DlogState | undefined {
    return this.dbs.get(dbid)?.dlog;
  }

  lastLsn(dbid: number): number | undefined {
    return this.dbs.get(dbid)?.lastLsn;
  }

  // -------------------------------------------------------------------------------------
  // Rebuild from the DLOG's own log

  /** Folds one recorded DLOG event into the state (start-up rebuild). Events of unprotected databases are skipped. */
  replay(event: DlogEvent): void {
    const e = this.dbs.get(event.dbid);
    if (e === undefined) return;
    e.dlog = evolve(e.dlog, event);
    if (event.type === 'DlogRecorded' || event.type === 'DlogSyncRecorded') e.lastLsn = Math.max(e.lastLsn, event.lsn);
  }

  /**
   * Replaces a database's state by a snapshot read from the log (DlogSnapshotted, start-up
   * rebuild): it is the state after every event before it. Snapshots of unprotected databases are
   * skipped; one of another geometry is refused (CORRUPT_DATA), the database's own stays.
   */
  restore(snapshot: DlogState): void {
    const e = this.dbs.get(snapshot.dbid);
    if (e === undefined) return;
    if (JSON.stringify(snapshot.geometry) !== JSON.stringify(e.geometry)) {
      throw new DlogError('CORRUPT_DATA', `DLOG snapshot of database ${snapshot.dbid}: its geometry is not the protected database's`);
    }
    e.dlog = snapshot;
    e.lastLsn = snapshot.lastLsn ?? 0;
    e.recent.clear();
  }

  /** End of the rebuild: everything recorded so far counts as applied (redeliveries of it are duplicates). */
  finishReplay(): void {
    for (const e of this.dbs.values()) e.watermark = e.lastLsn;
  }

  /** Captures recorded as awaited whose sync the rebuilt DLOG has already reached (a crash came in between). */
  resumeAwaiting(): Outcome {
    const dlog: DlogEvent[] = [];
    const next: Entry[] = [];
    for (const base of this.dbs.values()) {
      const e = cloneEntry(base);
      dlog.push(...this.apply(e, decide({ type: 'ResumeCaptures' }, e.dlog)));
      next.push(e);
    }
    return { dlog, commit: () => next.forEach((e) => this.dbs.set(e.dbid, e)) };
  }

  private apply(e: Entry, events: readonly DlogEvent[]): DlogEvent[] {
    for (const ev of events) e.dlog = evolve(e.dlog, ev);
    return [...events];
  }

  // -------------------------------------------------------------------------------------
  // Upstream ingest

  /** Validates and records a batch of upstream records (one partition, in order). Pure until commit(). */
  prepare(items: readonly UpstreamRecord[]): Prepared {
    const work = new Map<number, Entry>();
    const fresh = new Map<number, Map<number, string>>();
    const plog: PlogEntry[] = [];
    const dlog: DlogEvent[] = [];
    const rejected: Rejection[] = [];
    let duplicates = 0;
    const pending = new Map<number, { changes: BlockChange[]; upTo: number }>();

    const entry = (dbid: number): Entry | undefined => {
      const w = work.get(dbid);
      if (w) return w;
      const base = this.dbs.get(dbid);
      if (!base) return undefined;
      const c = cloneEntry(base);
      work.set(dbid, c);
      fresh.set(dbid, new Map());
      return c;
    };
    const record = (e: Entry, events: readonly DlogEvent[]) => dlog.push(...this.apply(e, events));
    const flush = (e: Entry) => {
      const p = pending.get(e.dbid);
      if (!p) return;
      pending.delete(e.dbid);
      record(e, decide({ type: 'RecordChanges', changes: p.changes, upTo: p.upTo }, e.dlog));
    };
    const pend = (e: Entry) => {
      const p = pending.get(e.dbid) ?? { changes: [], upTo: 0 };
      pending.set(e.dbid, p);
      return p;
    };

    items.forEach((m, index) => {
      const e = entry(m.dbid);
      if (e === undefined) {
        rejected.push({ index, code: 'UNKNOWN_DBID', message: `database ${m.dbid} is not protected by this change logger`, field: 'dbid' });
        return;
      }
      const fp = fingerprint(m);
      if (m.lsn <= e.lastLsn) {
        const seen = fresh.get(e.dbid)!.get(m.lsn) ?? e.recent.get(m.lsn);
        if (seen === fp || (seen === undefined && m.lsn <= e.watermark)) {
          duplicates++;
          return;
        }
        rejected.push({ index, code: 'LSN_NOT_INCREASING', message: `LSN ${m.lsn} is not above the last LSN ${e.lastLsn} of database ${m.dbid}`, field: 'lsn' });
        return;
      }
      switch (m.type) {
        case 'BlockChanged': {
          const area = m.area === 'ASSO' ? e.geometry.asso : e.geometry.data;
          if (m.rabn > area.blocks) {
            rejected.push({ index, code: 'RABN_OUT_OF_RANGE', message: `RABN ${m.rabn} is outside ${m.area} 1..${area.blocks} of database ${m.dbid}`, field: 'rabn' });
            return;
          }
          if (m.image.length !== area.blockSize) {
            rejected.push({ index, code: 'IMAGE_LENGTH', message: `${m.area} image of ${m.image.length} bytes, the block size of database ${m.dbid} is ${area.blockSize}`, field: 'image' });
            return;
          }
          const p = pend(e);
          p.changes.push({ area: m.area, rabn: m.rabn, lsn: m.lsn });
          p.upTo = m.lsn;
          plog.push({ type: 'PlogImage', dbid: m.dbid, area: m.area, rabn: m.rabn, lsn: m.lsn, image: m.image });
          break;
        }
        case 'EtSync':
          flush(e);
          record(e, decide({ type: 'ObserveSync', lsn: m.lsn, syncId: m.syncId }, e.dlog));
          plog.push({ type: 'PlogSync', dbid: m.dbid, lsn: m.lsn, syncId: m.syncId });
          break;
        case 'UtilityChanged': {
          const change = resolveUtilityChange(e.geometry, m.file, m.parts, m.ranges);
          if (typeof change === 'string') {
            rejected.push({ index, code: 'VALIDATION', message: `${change} of database ${m.dbid}`, field: 'ranges' });
            return;
          }
          flush(e);
          let events: DlogEvent[];
          try {
            events = decide({ type: 'RecordUtilityChange', lsn: m.lsn, file: m.file, parts: change.parts, extents: change.extents }, e.dlog);
          } catch (err) {
            if (!(err instanceof DlogError)) throw err;
            rejected.push({ index, code: err.code, message: err.message, field: 'file' });
            return;
          }
          record(e, events);
          break;
        }
        case 'NucleusState':
          if (m.active) {
            pend(e).upTo = m.lsn; // nothing changed: the LSN still moves (recorded with the next DLOG record)
            break;
          }
          // The nucleus stopped: its database is consistent at this LSN, exactly as at an ET
          // sync. Cutting the DLOG here is what lets an offline save capture at this LSN.
          flush(e);
          record(e, decide({ type: 'ObserveSync', lsn: m.lsn, syncId: `inactive@${m.lsn}` }, e.dlog));
          break;
        default: {
          const never: never = m;
          throw new DlogError('VALIDATION', `unknown upstream record ${JSON.stringify(never)}`);
        }
      }
      e.lastLsn = m.lsn;
      fresh.get(e.dbid)!.set(m.lsn, fp);
    });
    for (const e of work.values()) {
      flush(e);
      // captures that waited for this change stream to reach their sync point
      record(e, decide({ type: 'ResumeCaptures' }, e.dlog));
    }

    return {
      plog,
      dlog,
      rejected,
      duplicates,
      commit: () => {
        for (const [dbid, w] of work) {
          const recent = w.recent;
          for (const [lsn, fp] of fresh.get(dbid)!) recent.set(lsn, fp);
          while (recent.size > RECENT_KEPT) recent.delete(recent.keys().next().value as number);
          this.dbs.set(dbid, w);
        }
      },
    };
  }

  // -------------------------------------------------------------------------------------
  // Save lifecycle

  /**
   * SaveStarted captures the DLOG at the save's start sync (an offline save, which has none,
   * at the last LSN seen), SaveCompleted drops the capture, SaveFailed returns it. Returns the
   * DLOG events to publish and a commit that makes the new state current (after publishing).
   */
  onSaveOutcome(ev: SaveOutcome): Outcome {
    const base = this.dbs.get(ev.dbid);
    if (base === undefined) return { dlog: [], commit: () => undefined };
    const e = cloneEntry(base);
    const done = (dlog: DlogEvent[], refused?: DlogError): Outcome => ({ dlog, refused, commit: () => void this.dbs.set(e.dbid, e) });
    try {
      switch (ev.type) {
        case 'SaveStarted':
          return done(this.apply(e, decide({ type: 'CaptureForSave', correlationId: ev.correlationId, syncLsn: ev.startLsn ?? e.lastLsn }, e.dlog)));
        case 'SaveCompleted':
        case 'SaveFailed': {
          const outcome = ev.type === 'SaveCompleted' ? 'completed' : 'failed';
          const ended = this.apply(e, decide({ type: 'EndSave', correlationId: ev.correlationId, outcome, reason: ev.type === 'SaveFailed' ? ev.reason : undefined }, e.dlog));
          // a save that waited behind this one may capture now
          return done([...ended, ...this.apply(e, decide({ type: 'ResumeCaptures' }, e.dlog))]);
        }
        case 'RestoreCompleted':
          // a restore into another target leaves the protected database as it is
          if (!ev.intoDatabase || !ev.ranges) return done([]);
          return done(this.apply(e, decide({ type: 'RecordRestoredBlocks', ranges: ev.ranges }, e.dlog)));
        default: {
          const never: never = ev;
          throw new DlogError('VALIDATION', `unknown save outcome ${JSON.stringify(never)}`);
        }
      }
    } catch (err) {
      if (err instanceof DlogError) return done([], err);
      throw err;
    }
  }
}
