/**
 * The change logger's state and decisions, without Kafka: per protected database, the
 * DLOG (libs/dlog decider) plus what upstream validation needs (last LSN, recent
 * fingerprints for duplicate detection). Work is prepared on copies and committed only
 * once its output is durably published, so a failed publish followed by a redelivery of
 * the same records recomputes the same output instead of taking the records for duplicates.
 *
 * Mapping of DLOG decider events to dsf.dlog messages (the log is the state: `replay`
 * folds them back):
 *   BlocksChanged        -> DlogRecorded {lsn = highest LSN of the batch, ranges = blocks new to the DLOG}
 *                           (published for every accepted batch, even with no new blocks, so the
 *                           last LSN is exact after a rebuild)
 *   UtilityMarked        -> DlogRecorded {lsn = the UtilityChanged LSN, marks = [that file's new marks]}
 *   SyncPointRecorded    -> DlogSyncRecorded {lsn, syncId}
 *   DlogCaptured         -> DlogCaptured {captureId = correlationId = the save's correlationId, syncLsn,
 *                           ranges = EVERY block the save must read: captured DLOG blocks + blocks of the
 *                           captured utility marks + admin blocks, marks = the captured marks}
 *   CaptureDropped       -> DlogDropped   (SaveCompleted)
 *   CaptureReturned      -> DlogReturned  (SaveFailed)
 *   (capture waiting)    -> DlogCaptureAwaited {captureId, syncLsn}: SaveStarted came before the
 *                           stream reached its start sync; kept in the log so a restart still captures
 *   (waiting, save ended)-> DlogCaptureWithdrawn {captureId}: the save failed or completed first
 * NucleusState{active: false} is a sync point (the database is consistent there): it cuts the
 * DLOG like an EtSync (DlogSyncRecorded with syncId "inactive@<lsn>"), so an offline save
 * captures exactly at that LSN.
 */
import { createHash } from 'node:crypto';
import type { Geometry } from '@deltaflow/blockdb';
import type { AnyMessage, BlockRange, MessageOfType, TopicMessage, UtilityMark } from '@deltaflow/contracts';
import {
  BlockSet,
  blocksToSave,
  decide,
  DlogError,
  evolve,
  initialState,
  insideExtents,
  type BlockChange,
  type BlockRef,
  type DatabaseGeometry,
  type DlogEvent,
  type DlogState,
  type FilePart,
  type MarkRange,
} from '@deltaflow/dlog';
import { adminBlocks, dlogGeometry, type ProtectedDatabase } from './databases';

export type Upstream = TopicMessage<'dsf.block-changes'>;
export type DlogMessage = TopicMessage<'dsf.dlog'>;
type SaveEvent = MessageOfType<'SaveStarted'> | MessageOfType<'SaveCompleted'> | MessageOfType<'SaveFailed'>;

/** Why an upstream record was refused (goes to dsf.block-changes.dlq). */
export interface Rejection {
  readonly index: number;
  readonly code: string;
  readonly message: string;
  readonly field?: string;
}

export interface Prepared {
  /** PlogImage / PlogSync, in LSN order per dbid: publish FIRST */
  readonly plog: AnyMessage[];
  /** dsf.dlog messages in the order they were folded: publish AFTER the PLOG */
  readonly dlog: AnyMessage[];
  readonly rejected: Rejection[];
  readonly duplicates: number;
  /** make the prepared state current (call after both publishes succeeded) */
  commit(): void;
}

interface Entry {
  readonly dbid: number;
  readonly geometry: Geometry;
  readonly dgeom: DatabaseGeometry;
  readonly admin: BlockRef[];
  dlog: DlogState;
  /** highest LSN accepted from upstream (any message type) */
  lastLsn: number;
  /** highest LSN recorded before this process started: anything at or below it was already applied */
  watermark: number;
  /** LSN -> fingerprint of recently accepted upstream messages (exact-duplicate detection) */
  recent: Map<number, string>;
  /** captures waiting for the DLOG to reach their sync LSN */
  awaiting: Array<{ saveId: string; syncLsn: number }>;
}

const RECENT_KEPT = 200_000;

function fingerprint(m: Upstream): string {
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
      throw new Error(`unknown upstream message ${JSON.stringify(never)}`);
    }
  }
}

function toBlockRanges(area: 'ASSO' | 'DATA', set: BlockSet): BlockRange[] {
  return set.ranges().map((r) => ({ area, from: r.from, to: r.to }));
}

function changeRanges(changes: readonly BlockChange[]): BlockRange[] {
  const asso: number[] = [];
  const data: number[] = [];
  for (const c of changes) (c.area === 'ASSO' ? asso : data).push(c.rabn);
  return [...toBlockRanges('ASSO', BlockSet.of(asso)), ...toBlockRanges('DATA', BlockSet.of(data))];
}

/** Contract form of file marks: range parts become areas (DATA -> DATA, AC -> ASSO); ranges imply INDEX. */
function marksToContract(file: number, whole: readonly FilePart[], ranges: readonly MarkRange[]): UtilityMark {
  const parts = whole.length > 0 ? [...whole] : (['INDEX'] as FilePart[]);
  return { file, parts, ranges: ranges.map((r) => ({ area: r.part === 'DATA' ? 'DATA' : 'ASSO', from: r.from, to: r.to })) };
}

function cloneEntry(e: Entry): Entry {
  return { ...e, recent: e.recent, awaiting: [...e.awaiting] };
}

export class ChangeLog {
  private readonly dbs = new Map<number, Entry>();

  constructor(
    databases: readonly ProtectedDatabase[],
    private readonly now: () => number,
    dlogConfig: { extensionCapacity?: number; maxSegments?: number } = {},
  ) {
    for (const d of databases) {
      const dgeom = dlogGeometry(d.geometry);
      this.dbs.set(d.dbid, {
        dbid: d.dbid,
        geometry: d.geometry,
        dgeom,
        admin: adminBlocks(d.geometry),
        dlog: initialState(d.dbid, dgeom, dlogConfig),
        lastLsn: 0,
        watermark: 0,
        recent: new Map(),
        awaiting: [],
      });
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
  // Rebuild from dsf.dlog

  /** Fold one dsf.dlog message into the state (start-up rebuild). Unknown dbids are skipped. */
  replay(m: DlogMessage): void {
    const e = this.dbs.get(m.dbid);
    if (e === undefined) return;
    const apply = (ev: DlogEvent) => {
      e.dlog = evolve(e.dlog, ev);
    };
    switch (m.type) {
      case 'DlogRecorded': {
        const changes: BlockChange[] = [];
        for (const r of m.ranges) for (let rabn = r.from; rabn <= r.to; rabn++) changes.push({ area: r.area, rabn, lsn: m.lsn });
        if (m.marks.length === 0) apply({ type: 'BlocksChanged', dbid: m.dbid, changes, lastLsn: m.lsn });
        for (const mk of m.marks) {
          apply({
            type: 'UtilityMarked',
            dbid: m.dbid,
            file: mk.file,
            whole: mk.parts,
            ranges: mk.ranges.map((r) => ({ part: r.area === 'DATA' ? 'DATA' : 'AC', from: r.from, to: r.to })),
          });
        }
        e.lastLsn = Math.max(e.lastLsn, m.lsn);
        break;
      }
      case 'DlogSyncRecorded':
        apply({ type: 'SyncPointRecorded', dbid: m.dbid, lsn: m.lsn, syncId: m.syncId });
        e.lastLsn = Math.max(e.lastLsn, m.lsn);
        break;
      case 'DlogCaptureAwaited':
        if (!e.awaiting.some((a) => a.saveId === m.captureId)) e.awaiting.push({ saveId: m.captureId, syncLsn: m.syncLsn });
        break;
      case 'DlogCaptureWithdrawn':
        e.awaiting = e.awaiting.filter((a) => a.saveId !== m.captureId);
        break;
      case 'DlogCaptured':
        e.awaiting = e.awaiting.filter((a) => a.saveId !== m.captureId);
        apply({ type: 'DlogCaptured', dbid: m.dbid, saveId: m.captureId, syncLsn: m.syncLsn, exact: true, assoBlocks: 0, dataBlocks: 0, markedFiles: [] });
        break;
      case 'DlogDropped':
        e.awaiting = e.awaiting.filter((a) => a.saveId !== m.captureId);
        apply({ type: 'CaptureDropped', dbid: m.dbid, saveId: m.captureId, syncLsn: 0 });
        break;
      case 'DlogReturned':
        e.awaiting = e.awaiting.filter((a) => a.saveId !== m.captureId);
        apply({ type: 'CaptureReturned', dbid: m.dbid, saveId: m.captureId, syncLsn: 0 });
        break;
      default: {
        const never: never = m;
        throw new Error(`unknown dsf.dlog message ${JSON.stringify(never)}`);
      }
    }
  }

  /** End of the rebuild: everything recorded so far counts as applied (redeliveries of it are duplicates). */
  finishReplay(): void {
    for (const e of this.dbs.values()) e.watermark = e.lastLsn;
  }

  /**
   * Captures recorded as waiting (DlogCaptureAwaited) whose sync LSN the rebuilt DLOG has
   * already reached: a crash came between the stream reaching it and the capture being
   * published. Returns the dsf.dlog messages to publish and a commit, like onSaveEvent.
   */
  resumeAwaiting(): { dlog: AnyMessage[]; commit(): void } {
    const at = this.now();
    const dlog: AnyMessage[] = [];
    const next: Entry[] = [];
    for (const base of this.dbs.values()) {
      const e = cloneEntry(base);
      for (const a of [...e.awaiting]) {
        const out = this.tryCapture(e, a.saveId, a.syncLsn, at);
        if (out === 'wait') continue;
        e.awaiting = e.awaiting.filter((x) => x !== a);
        dlog.push(...out);
      }
      next.push(e);
    }
    return { dlog, commit: () => next.forEach((e) => this.dbs.set(e.dbid, e)) };
  }

  // -------------------------------------------------------------------------------------
  // Upstream ingest

  /** Validate and record a batch of upstream messages (one partition, in order). Pure until commit(). */
  prepare(items: readonly Upstream[]): Prepared {
    const occurredAt = this.now();
    const work = new Map<number, Entry>();
    const fresh = new Map<number, Map<number, string>>();
    const plog: AnyMessage[] = [];
    const dlog: AnyMessage[] = [];
    const rejected: Rejection[] = [];
    let duplicates = 0;
    const pending = new Map<number, { changes: BlockChange[]; maxLsn: number }>();

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
    const apply = (e: Entry, events: readonly DlogEvent[]) => {
      for (const ev of events) e.dlog = evolve(e.dlog, ev);
    };
    const flush = (e: Entry) => {
      const p = pending.get(e.dbid);
      if (!p) return;
      pending.delete(e.dbid);
      const decided = decide({ type: 'RecordChanges', changes: p.changes }, e.dlog);
      const news = decided.flatMap((ev) => (ev.type === 'BlocksChanged' ? ev.changes : []));
      apply(e, [{ type: 'BlocksChanged', dbid: e.dbid, changes: news, lastLsn: p.maxLsn }]);
      dlog.push({ type: 'DlogRecorded', dbid: e.dbid, lsn: p.maxLsn, ranges: changeRanges(news), marks: [], occurredAt });
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
          const p = pending.get(e.dbid) ?? { changes: [], maxLsn: 0 };
          p.changes.push({ area: m.area, rabn: m.rabn, lsn: m.lsn });
          p.maxLsn = m.lsn;
          pending.set(e.dbid, p);
          plog.push({ type: 'PlogImage', dbid: m.dbid, area: m.area, rabn: m.rabn, lsn: m.lsn, image: m.image });
          break;
        }
        case 'EtSync': {
          flush(e);
          const events = decide({ type: 'ObserveSync', lsn: m.lsn, syncId: m.syncId }, e.dlog);
          apply(e, events);
          for (const ev of events) if (ev.type === 'SyncPointRecorded') dlog.push({ type: 'DlogSyncRecorded', dbid: e.dbid, lsn: ev.lsn, syncId: ev.syncId, occurredAt });
          plog.push({ type: 'PlogSync', dbid: m.dbid, lsn: m.lsn, syncId: m.syncId });
          break;
        }
        case 'UtilityChanged': {
          const cmd = this.utilityCommand(e, m);
          if (typeof cmd === 'string') {
            rejected.push({ index, code: 'VALIDATION', message: cmd, field: 'ranges' });
            return;
          }
          flush(e);
          let events: DlogEvent[];
          try {
            events = decide({ type: 'RecordUtilityChange', file: m.file, parts: cmd.parts, ranges: cmd.ranges }, e.dlog);
          } catch (err) {
            if (!(err instanceof DlogError)) throw err;
            rejected.push({ index, code: err.code, message: err.message, field: 'file' });
            return;
          }
          apply(e, events);
          const marks = events.flatMap((ev) => (ev.type === 'UtilityMarked' ? [marksToContract(ev.file, ev.whole, ev.ranges)] : []));
          dlog.push({ type: 'DlogRecorded', dbid: e.dbid, lsn: m.lsn, ranges: [], marks, occurredAt });
          if (marks.length === 0) {
            // nothing new to mark: still record the LSN (as an empty block record)
            apply(e, [{ type: 'BlocksChanged', dbid: e.dbid, changes: [], lastLsn: m.lsn }]);
          }
          break;
        }
        case 'NucleusState': {
          if (m.active) {
            // nothing changed: the LSN still moves (recorded with the next DLOG record)
            const p = pending.get(e.dbid) ?? { changes: [], maxLsn: 0 };
            p.maxLsn = m.lsn;
            pending.set(e.dbid, p);
            break;
          }
          // The nucleus stopped: its database is consistent at this LSN, exactly as at an ET
          // sync. Cutting the DLOG here is what lets an offline save capture at this LSN.
          flush(e);
          const events = decide({ type: 'ObserveSync', lsn: m.lsn, syncId: `inactive@${m.lsn}` }, e.dlog);
          apply(e, events);
          for (const ev of events) if (ev.type === 'SyncPointRecorded') dlog.push({ type: 'DlogSyncRecorded', dbid: e.dbid, lsn: ev.lsn, syncId: ev.syncId, occurredAt });
          break;
        }
        default: {
          const never: never = m;
          throw new Error(`unknown upstream message ${JSON.stringify(never)}`);
        }
      }
      e.lastLsn = m.lsn;
      fresh.get(e.dbid)!.set(m.lsn, fp);
    });
    for (const e of work.values()) flush(e);
    // captures that waited for this change stream to reach their sync point
    for (const e of work.values()) {
      for (const a of [...e.awaiting]) {
        const out = this.tryCapture(e, a.saveId, a.syncLsn, occurredAt);
        if (out !== 'wait') {
          e.awaiting = e.awaiting.filter((x) => x !== a);
          dlog.push(...out);
        }
      }
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

  /** UtilityChanged -> parts and part ranges; a string is the reason for rejecting it. */
  private utilityCommand(e: Entry, m: MessageOfType<'UtilityChanged'>): { parts: FilePart[]; ranges: MarkRange[] } | string {
    const f = e.dgeom.files.find((x) => x.file === m.file);
    if (f === undefined) return `file ${m.file} is not in the geometry of database ${m.dbid}`;
    const ranges: MarkRange[] = [];
    const parts = new Set<FilePart>(m.parts);
    for (const r of m.ranges ?? []) {
      if (r.area === 'DATA') {
        if (!insideExtents(f.dataExtents, r.from, r.to)) return `DATA range ${r.from}-${r.to} is outside the data storage of file ${m.file}`;
        ranges.push({ part: 'DATA', from: r.from, to: r.to });
        parts.delete('DATA');
      } else if (insideExtents(f.acExtents, r.from, r.to)) {
        ranges.push({ part: 'AC', from: r.from, to: r.to });
        parts.delete('AC');
      } else if (insideExtents(f.indexExtents, r.from, r.to)) {
        parts.add('INDEX'); // the index is always marked whole
      } else {
        return `ASSO range ${r.from}-${r.to} is outside the address converter and index of file ${m.file}`;
      }
    }
    return { parts: [...parts], ranges };
  }

  // -------------------------------------------------------------------------------------
  // Save lifecycle (dsf.events)

  /**
   * SaveStarted captures, SaveCompleted drops, SaveFailed returns. Returns the dsf.dlog
   * messages to publish and a commit that makes the new state current (after publishing).
   */
  onSaveEvent(ev: SaveEvent): { dlog: AnyMessage[]; commit(): void } {
    const base = this.dbs.get(ev.dbid);
    if (base === undefined) return { dlog: [], commit: () => undefined };
    const e = cloneEntry(base);
    const at = this.now();
    const done = (dlog: AnyMessage[]) => ({ dlog, commit: () => void this.dbs.set(e.dbid, e) });
    switch (ev.type) {
      case 'SaveStarted': {
        const syncLsn = ev.startLsn ?? e.lastLsn; // offline: the nucleus is inactive, the DLOG is complete now
        const out = this.tryCapture(e, ev.correlationId, syncLsn, at);
        if (out === 'wait') {
          if (e.awaiting.some((a) => a.saveId === ev.correlationId)) return done([]);
          e.awaiting.push({ saveId: ev.correlationId, syncLsn });
          return done([{ type: 'DlogCaptureAwaited', dbid: e.dbid, captureId: ev.correlationId, syncLsn, occurredAt: at }]);
        }
        return done(out);
      }
      case 'SaveCompleted':
      case 'SaveFailed': {
        if (e.awaiting.some((a) => a.saveId === ev.correlationId)) {
          // the save ended before the stream reached its start sync: nothing was captured
          e.awaiting = e.awaiting.filter((a) => a.saveId !== ev.correlationId);
          return done([{ type: 'DlogCaptureWithdrawn', dbid: e.dbid, captureId: ev.correlationId, occurredAt: at }]);
        }
        const cmd = ev.type === 'SaveCompleted' ? ('DropCapture' as const) : ('ReturnCapture' as const);
        let events: DlogEvent[];
        try {
          events = decide({ type: cmd, saveId: ev.correlationId }, e.dlog);
        } catch (err) {
          if (err instanceof DlogError) return done([]); // no capture for that save (never captured, or not ours)
          throw err;
        }
        const out: AnyMessage[] = [];
        for (const x of events) {
          e.dlog = evolve(e.dlog, x);
          if (x.type === 'CaptureReturned') {
            const reason = ev.type === 'SaveFailed' ? ev.reason : 'save failed';
            out.push({ type: 'DlogReturned', dbid: e.dbid, captureId: x.saveId, correlationId: x.saveId, reason, occurredAt: at });
          } else if (x.type === 'CaptureDropped') {
            out.push({ type: 'DlogDropped', dbid: e.dbid, captureId: x.saveId, correlationId: x.saveId, occurredAt: at });
          }
        }
        return done(out);
      }
      default: {
        const never: never = ev;
        throw new Error(`unknown save event ${JSON.stringify(never)}`);
      }
    }
  }

  private tryCapture(e: Entry, saveId: string, syncLsn: number, at: number): AnyMessage[] | 'wait' {
    let events: DlogEvent[];
    try {
      events = decide({ type: 'CaptureForSave', saveId, syncLsn }, e.dlog);
    } catch (err) {
      if (err instanceof DlogError && err.code === 'SYNC_NOT_SEEN') return 'wait';
      if (err instanceof DlogError) return []; // SAVE_IN_PROGRESS, ILLEGAL_STATE (redelivery after finish), ...
      throw err;
    }
    const out: AnyMessage[] = [];
    for (const x of events) {
      e.dlog = evolve(e.dlog, x);
      if (x.type !== 'DlogCaptured' || e.dlog.pending === null) continue;
      const plan = blocksToSave(e.dlog.pending, e.dgeom, e.admin);
      out.push({
        type: 'DlogCaptured',
        dbid: e.dbid,
        captureId: saveId,
        correlationId: saveId,
        syncLsn,
        ranges: [...toBlockRanges('ASSO', plan.blocks.ASSO), ...toBlockRanges('DATA', plan.blocks.DATA)],
        marks: e.dlog.pending.marks.map((mk) => marksToContract(mk.file, mk.whole, mk.ranges)),
        occurredAt: at,
      });
    }
    return out;
  }
}
