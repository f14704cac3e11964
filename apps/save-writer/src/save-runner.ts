/**
 * The save writer's work: decides each SaveRequested with the save-chain decider of its
 * database, runs the save (DESIGN "Online save" / "Offline save") and reports
 * SaveStarted / SaveProgress / SaveCompleted / SaveFailed on dsf.events.
 *
 * State per database is a fold over dsf.events (saves, DSIM frees) and the nucleus state
 * from dsf.block-changes, rebuilt by the log tail at every start, so a redelivered command
 * (same correlation id) changes nothing, and a save that started but never finished (the
 * writer was killed) is reported failed at the next start, which returns its DLOG capture.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { adminBlockCount, BlockDatabase, BlockRange, extentArea, ExtentKind, Geometry, normalizeRanges } from '@deltaflow/blockdb';
import {
  type AnyMessage,
  type Destination,
  type MessageOfType,
  type UtilityMark,
} from '@deltaflow/contracts';
import type { Dsid } from '@deltaflow/dsid';
import { decide, evolve, initialState, SaveCommand, SaveEvent, SaveLifecycleState } from '@deltaflow/save-chain';
import { SaveWriter } from '@deltaflow/save-format';
import { dataSetDir, dataSetPath, defaultDatabaseDir } from './paths';
import type { TailMessage } from './log-tail';

export interface SaveRunnerDeps {
  readonly dataDir: string;
  readonly databaseDir?: (dbid: number) => string;
  readonly publish: (...messages: AnyMessage[]) => Promise<void>;
  readonly now: () => number;
  readonly syncTimeoutMs: number;
  readonly captureTimeoutMs: number;
  /** SaveProgress at most this often */
  readonly progressEveryMs: number;
  readonly log: (msg: string) => void;
  /** resolves once the log tail has read everything published so far */
  readonly barrier?: () => Promise<void>;
  /** fsync data sets before the rename (default true) */
  readonly fsync?: boolean;
}

class SaveFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

const PART_KIND: Record<UtilityMark['parts'][number], ExtentKind> = { DATA: 'DS', AC: 'AC', INDEX: 'IX' };

export class SaveRunner {
  private readonly states = new Map<number, SaveLifecycleState>();
  private readonly nucleus = new Map<number, { active: boolean; lsn: number }>();
  private readonly syncs = new Map<string, number>();
  private readonly syncWaiters = new Map<string, Waiter<number>>();
  private readonly captures = new Map<string, MessageOfType<'DlogCaptured'>>();
  private readonly captureWaiters = new Map<string, Waiter<MessageOfType<'DlogCaptured'>>>();
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private killed = false;

  constructor(private readonly d: SaveRunnerDeps) {}

  private state(dbid: number): SaveLifecycleState {
    return this.states.get(dbid) ?? initialState();
  }

  private apply(dbid: number, events: readonly SaveEvent[]): void {
    this.states.set(dbid, events.reduce(evolve, this.state(dbid)));
  }

  private decideAndApply(dbid: number, command: SaveCommand): SaveEvent[] {
    const events = decide(command, this.state(dbid));
    this.apply(dbid, events);
    return events;
  }

  /** The nucleus state per database, as folded so far (for the tail checkpoint). */
  nucleusStates(): Map<number, { active: boolean; lsn: number }> {
    return new Map(this.nucleus);
  }

  /** Restores nucleus states from a checkpoint (before the tail resumes after it). */
  restoreNucleus(states: ReadonlyMap<number, { active: boolean; lsn: number }>): void {
    for (const [dbid, st] of states) {
      const prev = this.nucleus.get(dbid);
      if (prev === undefined || st.lsn >= prev.lsn) this.nucleus.set(dbid, { ...st });
    }
  }

  /** Everything the log tail reads (replayed from offset 0 at start, then live). Idempotent. */
  onLog(m: TailMessage): void {
    switch (m.type) {
      case 'NucleusState': {
        const prev = this.nucleus.get(m.dbid);
        if (prev === undefined || m.lsn >= prev.lsn) this.nucleus.set(m.dbid, { active: m.active, lsn: m.lsn });
        return;
      }
      case 'EtSync': {
        this.syncs.set(m.syncId, m.lsn);
        this.syncWaiters.get(m.syncId)?.resolve(m.lsn);
        return;
      }
      case 'DlogCaptured': {
        this.captures.set(m.correlationId, m);
        this.captureWaiters.get(m.correlationId)?.resolve(m);
        return;
      }
      case 'SaveStarted': {
        const s = this.state(m.dbid);
        if (s.handled.has(m.correlationId)) return; // our own, already applied
        this.apply(m.dbid, [
          { type: 'SaveAccepted', correlationId: m.correlationId, mode: m.mode, online: m.online },
          { type: 'SaveStarted', correlationId: m.correlationId, dsid: m.dsid, mode: m.mode, online: m.online, startLsn: m.startLsn ?? null },
        ]);
        return;
      }
      case 'SaveCompleted': {
        if (this.state(m.dbid).running?.correlationId !== m.correlationId) return;
        this.apply(m.dbid, [{ type: 'SaveCompleted', correlationId: m.correlationId, dsid: m.dsid, endLsn: m.endLsn ?? null, blocks: m.blocks }]);
        return;
      }
      case 'SaveFailed': {
        const s = this.state(m.dbid);
        if (s.running?.correlationId === m.correlationId)
          this.apply(m.dbid, [{ type: 'SaveFailed', correlationId: m.correlationId, dsid: m.dsid ?? null, code: m.code, reason: m.reason }]);
        else if (!s.handled.has(m.correlationId))
          this.apply(m.dbid, [{ type: 'SaveRejected', correlationId: m.correlationId, code: 'VALIDATION', reason: m.reason }]);
        return;
      }
      case 'DsimUnloaded':
      case 'DsimReset': {
        const held = this.state(m.dbid).dsimHeldBy;
        if (held !== null && (m.dsid === undefined || sameDsid(held, m.dsid))) this.apply(m.dbid, [{ type: 'DsimFreed' }]);
        return;
      }
      default:
        return;
    }
  }

  /** After the tail caught up at start: saves started but never finished were interrupted. */
  async failInterrupted(): Promise<void> {
    for (const [dbid, s] of this.states) {
      const r = s.running;
      if (r === null) continue;
      await this.fail(dbid, r.correlationId, 'WRITER_RESTARTED', 'the save writer stopped during this save; its DLOG capture returns to the next delta');
    }
    // a killed writer leaves only `.partial` files behind: they are never data sets
    const dir = dataSetDir(this.d.dataDir);
    if (fs.existsSync(dir)) for (const f of fs.readdirSync(dir)) if (f.endsWith('.partial')) fs.rmSync(path.join(dir, f), { force: true });
  }

  /** A SaveRequested from dsf.commands. Resolves once the save is decided (it then runs in the background). */
  async onSaveRequested(m: MessageOfType<'SaveRequested'>): Promise<void> {
    await this.d.barrier?.();
    const nucleus = this.nucleus.get(m.dbid);
    this.decideAndApply(m.dbid, { type: 'RecordNucleusState', active: nucleus?.active ?? false });
    const events = this.decideAndApply(m.dbid, { type: 'RequestSave', correlationId: m.correlationId, mode: m.mode, online: m.online });
    if (events.length === 0) {
      this.d.log(`save ${m.correlationId}: already handled, ignored`);
      return;
    }
    const e = events[0];
    if (e.type === 'SaveRejected') {
      this.d.log(`save ${m.correlationId} refused: ${e.code}: ${e.reason}`);
      await this.d.publish({ type: 'SaveFailed', correlationId: m.correlationId, dbid: m.dbid, code: e.code, reason: e.reason, occurredAt: this.d.now() });
      return;
    }
    const p = this.run(m).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  private async run(m: MessageOfType<'SaveRequested'>): Promise<void> {
    const { dbid, correlationId: cid } = m;
    let writer: SaveWriter | null = null;
    let db: BlockDatabase | null = null;
    try {
      const file = this.target(m.destination);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      if (fs.existsSync(file)) throw new SaveFailure('ALREADY_EXISTS', `data set ${path.basename(file)} already exists`);
      const dir = (this.d.databaseDir ?? ((n: number) => defaultDatabaseDir(this.d.dataDir, n)))(dbid);
      if (!BlockDatabase.exists(dir)) throw new SaveFailure('NOT_FOUND', `no database ${dbid} at ${dir}`);
      db = BlockDatabase.open(dir, { readOnly: true });

      // online: the start sync; offline: the LSN at which the nucleus became inactive, so the
      // change logger captures the DLOG exactly there (everything the nucleus wrote is in it)
      const startLsn: number | null = m.online ? await this.sync(dbid, `${cid}.start`, cid) : (this.nucleus.get(dbid)?.lsn ?? null);
      const started = this.decideAndApply(dbid, { type: 'StartSave', correlationId: cid, startLsn, now: this.d.now() })[0];
      if (started?.type !== 'SaveStarted') throw new SaveFailure('ILLEGAL_STATE', 'the save could not start');
      const dsid = started.dsid;
      await this.d.publish({
        type: 'SaveStarted',
        correlationId: cid,
        dbid,
        dsid,
        mode: m.mode,
        online: m.online,
        ...(startLsn !== null ? { startLsn } : {}),
        occurredAt: this.d.now(),
      });
      this.d.log(`save ${cid}: started ${m.mode} ${m.online ? 'online' : 'offline'} save of database ${dbid}${startLsn !== null ? ` at sync LSN ${startLsn}` : ''}`);

      let ranges: readonly BlockRange[];
      let headerLsn = startLsn ?? 0;
      if (m.mode === 'full') ranges = db.usedRanges;
      else {
        const capture = await this.capture(cid);
        if (!m.online) headerLsn = capture.syncLsn;
        ranges = deltaRanges(db.geometry, capture);
      }
      const total = ranges.reduce((n, r) => n + (r.to - r.from + 1), 0);
      if (m.mode === 'delta') this.d.log(`save ${cid}: DLOG captured, ${total} blocks to save`);

      writer = await SaveWriter.create(
        file,
        { dbid, dsid, kind: m.mode, online: m.online, startLsn: headerLsn, endLsn: headerLsn, geometry: db.geometry },
        { fsync: this.d.fsync ?? true, endLsnLater: m.online },
      );
      let written = 0;
      let lastProgress = this.d.now();
      for (const r of ranges) {
        for (const b of db.blocksIn(r)) {
          if (this.stopping) throw new SaveFailure('WRITER_STOPPED', 'the save writer was stopped during the save');
          await writer.writeBlock(b.area, b.rabn, b.image);
          written++;
          if (this.d.now() - lastProgress >= this.d.progressEveryMs) {
            lastProgress = this.d.now();
            this.decideAndApply(dbid, { type: 'RecordProgress', correlationId: cid, blocksWritten: written, blocksTotal: total });
            await this.d.publish({ type: 'SaveProgress', correlationId: cid, dbid, blocksWritten: written, blocksTotal: total, occurredAt: lastProgress });
          }
        }
      }
      // online: the end sync closes the save; the data set records it before it is complete
      let endLsn: number | null = null;
      if (m.online) {
        endLsn = await this.sync(dbid, `${cid}.end`, cid);
        writer.setEndLsn(endLsn);
      }
      const out = await writer.finish();
      writer = null;
      this.decideAndApply(dbid, { type: 'CompleteSave', correlationId: cid, endLsn, blocks: written });
      await this.d.publish({
        type: 'SaveCompleted',
        correlationId: cid,
        dbid,
        dsid,
        mode: m.mode,
        online: m.online,
        ...(startLsn !== null ? { startLsn } : {}),
        ...(endLsn !== null ? { endLsn } : {}),
        location: { kind: 'directory', name: path.basename(file) },
        blocks: written,
        bytes: out.bytes,
        digest: out.digest,
        occurredAt: this.d.now(),
      });
      this.d.log(`save ${cid}: completed, ${written} blocks in ${path.basename(file)}`);
    } catch (err) {
      await writer?.abort().catch(() => undefined);
      if (this.killed) return; // simulated crash: report nothing, the next start does
      const code = err instanceof SaveFailure ? err.code : typeof (err as { code?: unknown }).code === 'string' ? String((err as { code: string }).code) : 'INTERNAL';
      await this.fail(dbid, cid, /^[A-Z][A-Z0-9_]*$/.test(code) ? code : 'INTERNAL', (err as Error).message || String(err));
    } finally {
      db?.close();
    }
  }

  private async fail(dbid: number, cid: string, code: string, reason: string): Promise<void> {
    const events = this.decideAndApply(dbid, { type: 'FailSave', correlationId: cid, code, reason });
    const f = events[0];
    this.d.log(`save ${cid}: failed: ${code}: ${reason}`);
    await this.d.publish({
      type: 'SaveFailed',
      correlationId: cid,
      dbid,
      ...(f?.type === 'SaveFailed' && f.dsid !== null ? { dsid: f.dsid } : {}),
      code,
      reason: reason.slice(0, 4000),
      occurredAt: this.d.now(),
    });
  }

  private target(dest: Destination): string {
    if (dest.kind !== 'directory') throw new SaveFailure('UNSUPPORTED', 'stream destinations are not supported by the save writer yet; use a directory destination');
    try {
      return dataSetPath(this.d.dataDir, dest.name);
    } catch (e) {
      throw new SaveFailure('VALIDATION', (e as Error).message);
    }
  }

  private async sync(dbid: number, syncId: string, correlationId: string): Promise<number> {
    const known = this.syncs.get(syncId);
    if (known !== undefined) return known;
    const answered = new Promise<number>((resolve, reject) => this.syncWaiters.set(syncId, { resolve, reject }));
    await this.d.publish({ type: 'SyncRequested', dbid, syncId, correlationId });
    try {
      return await within(answered, this.d.syncTimeoutMs, () => new SaveFailure('SYNC_TIMEOUT', `the nucleus did not answer sync ${syncId} within ${this.d.syncTimeoutMs} ms`));
    } finally {
      this.syncWaiters.delete(syncId);
    }
  }

  private async capture(correlationId: string): Promise<MessageOfType<'DlogCaptured'>> {
    const known = this.captures.get(correlationId);
    if (known !== undefined) return known;
    const captured = new Promise<MessageOfType<'DlogCaptured'>>((resolve, reject) => this.captureWaiters.set(correlationId, { resolve, reject }));
    try {
      return await within(captured, this.d.captureTimeoutMs, () => new SaveFailure('CAPTURE_TIMEOUT', `the change logger did not capture the DLOG for this save within ${this.d.captureTimeoutMs} ms`));
    } finally {
      this.captureWaiters.delete(correlationId);
    }
  }

  /** Stops: running saves fail (reported) or, with `kill`, vanish as in a crash (reported at the next start). */
  async stop(kill = false): Promise<void> {
    this.killed = kill;
    this.stopping = true;
    const stopped = new SaveFailure('WRITER_STOPPED', 'the save writer was stopped during the save');
    for (const w of [...this.syncWaiters.values(), ...this.captureWaiters.values()]) w.reject(stopped);
    await Promise.allSettled([...this.running]);
  }
}

/** A delta save's blocks: the admin blocks, the captured DLOG RABNs and every block of the utility marks. */
export function deltaRanges(g: Geometry, capture: { ranges: readonly BlockRange[]; marks: readonly UtilityMark[] }): BlockRange[] {
  const r: BlockRange[] = [{ area: 'ASSO', from: 1, to: adminBlockCount(g) }, ...capture.ranges];
  for (const m of capture.marks) {
    if (m.ranges.length > 0) {
      r.push(...m.ranges);
      continue;
    }
    const f = g.files.find((x) => x.file === m.file);
    if (f === undefined) throw new SaveFailure('VALIDATION', `utility marks name file ${m.file}, which the database does not define`);
    for (const part of m.parts)
      for (const e of f.extents) if (e.kind === PART_KIND[part]) r.push({ area: extentArea(e.kind), from: e.from, to: e.to });
  }
  return normalizeRanges(r);
}

function sameDsid(a: Dsid, b: Dsid): boolean {
  return a.full === b.full && a.deltaFrom === b.deltaFrom && a.deltaTo === b.deltaTo && a.timestamp === b.timestamp && a.lineage === b.lineage;
}

async function within<T>(p: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(timeout()), ms)))]);
  } finally {
    clearTimeout(t);
  }
}
