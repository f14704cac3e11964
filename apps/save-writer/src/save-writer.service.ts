/**
 * The save writer's work, as a Nest provider: decides each SaveRequested with the save
 * lifecycle decider of its database (@deltaflow/save-chain), runs the save (DESIGN "Online
 * save" / "Offline save") and reports SaveStarted / SaveProgress / SaveCompleted / SaveFailed
 * on dsf.events.
 *
 * State per database is a fold over dsf.events (saves, DSIM frees), dsf.dlog (the captures the
 * change logger took for saves) and the nucleus state from dsf.block-changes (and
 * dsf.nucleus-state, where it outlives the block-changes retention), read by a
 * TopicReader at every start (dsf.block-changes from its checkpoint, tail-checkpoint.ts) before
 * any command is decided, so a redelivered command (same correlation id) changes nothing, and a
 * save that started but never finished (the writer was killed) is reported failed at the next
 * start, which returns its DLOG capture. Which blocks a save holds is never computed here: a
 * full save holds every used block, a delta exactly the ranges of its DlogCaptured.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { BlockDatabase, databaseDir } from '@deltaflow/blockdb';
import type { BlockRange } from '@deltaflow/blocks';
import type { AnyMessage, Destination, Location, MessageOfType, TopicMessage } from '@deltaflow/contracts';
import { sameDsid } from '@deltaflow/dsid';
import { blocksOfFullSave } from '@deltaflow/dlog';
import { saveLifecycle, type SaveCommand, type SaveEvent, type SaveLifecycleState } from '@deltaflow/save-chain';
import { DataSetWriter, dataSetPath } from '@deltaflow/save-format';
import { PARTIAL_SUFFIX, Throttle } from '@deltaflow/core';
import { Answers, Assignments, DiskSpaceWatch, EventPublisher, StreamOutput, TopicReader, type ClientFileWritten, type DiskSpaceThreshold, type RecordAt } from '@deltaflow/service-kit';
import { encodeMessage } from '@deltaflow/contracts';
import { checkpointPath, readCheckpoint, writeCheckpoint } from './tail-checkpoint';
import { onDataSetExpireRequested, onRetentionSetRequested, type ExpiryDeps } from './data-set-expiry';

/** What the save writer folds from the log: dsf.events, dsf.dlog and the nucleus state on dsf.block-changes. */
export type TailMessage = TopicMessage<'dsf.block-changes'> | TopicMessage<'dsf.nucleus-state'> | TopicMessage<'dsf.dlog'> | TopicMessage<'dsf.events'>;

export interface SaveWriterConfig {
  readonly brokers: readonly string[];
  readonly dataDir: string;
  readonly groupId?: string;
  readonly clientId?: string;
  readonly databaseDir?: (dbid: number) => string;
  readonly syncTimeoutMs?: number;
  readonly captureTimeoutMs?: number;
  /** how long an online save waits for the DSIM builder to acquire its DSIM (default 30 s) */
  readonly dsimTimeoutMs?: number;
  /** SaveProgress at most this often (default 1 s) */
  readonly progressEveryMs?: number;
  /** fsync data sets before the rename (default true) */
  readonly fsync?: boolean;
  readonly log?: (msg: string) => void;
  readonly now?: () => number;
  /** how often the dsf.block-changes checkpoint is written (default 30 s; also at start and stop) */
  readonly checkpointEveryMs?: number;
  /** how often saves of owned databases are checked for a writer instance that is gone (default 10 s) */
  readonly reapEveryMs?: number;
  /** block bytes per second all saves of this instance copy at most (SAVE_WRITER_MAX_BYTES_PER_SEC); unlimited when absent */
  readonly maxBytesPerSec?: number;
  /** how long a save to a stream waits for the multiplexer to open and close its client file (default 120 s) */
  readonly streamTimeoutMs?: number;
  /** free space kept in the data set directory (default DELTAFLOW_DISK_MIN_FREE_BYTES / _PERCENT): a save that would not fit is refused */
  readonly diskThreshold?: DiskSpaceThreshold;
}

export const SAVE_WRITER_CONFIG = Symbol('SAVE_WRITER_CONFIG');

/** The configuration with its defaults filled in. */
interface Deps {
  readonly dataDir: string;
  readonly databaseDir?: (dbid: number) => string;
  readonly now: () => number;
  readonly syncTimeoutMs: number;
  readonly captureTimeoutMs: number;
  readonly dsimTimeoutMs: number;
  readonly progressEveryMs: number;
  readonly log: (msg: string) => void;
  readonly fsync: boolean;
}

class SaveFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the DSIM builder answered to an online save's acquisition. */
type DsimAnswer = { readonly acquired: true } | { readonly acquired: false; readonly code: string; readonly reason: string };


@Injectable()
export class SaveWriterService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly states = new Map<number, SaveLifecycleState>();
  private readonly nucleus = new Map<number, { active: boolean; lsn: number }>();
  private readonly syncs = new Answers<number>();
  private readonly captures = new Answers<MessageOfType<'DlogCaptured'>>();
  private readonly dsims = new Answers<DsimAnswer>();
  /** running saves to stop, with the reason (their DSIM was reset, the nucleus started during an offline save) */
  private readonly aborted = new Map<string, SaveFailure>();
  private readonly running = new Set<Promise<void>>();
  /** saves this instance runs (accepted here, not finished) */
  private readonly mine = new Set<string>();
  /** every started, unfinished save in the log: which instance runs it, where it writes */
  private readonly started = new Map<string, { dbid: number; instance?: string; destination?: Destination }>();
  /** the partition index of each database (co-partitioned topics: the same on every topic) */
  private readonly partitionOf = new Map<number, number>();
  private reapTimer?: NodeJS.Timeout;
  private reaping: Promise<void> = Promise.resolve();
  /** one rate for every save of this instance (a save beside a busy database takes what it is given) */
  private readonly throttle?: Throttle;
  private stopping = false;
  private killed = false;

  private readonly d: Deps;
  private publisher?: EventPublisher<AnyMessage>;
  private tail?: TopicReader<TailMessage>;
  private cpTimer?: NodeJS.Timeout;
  private readonly cpFile: string;
  /** saves to a stream: written into their client file (online saves staged first) */
  private readonly streams: StreamOutput;
  /** free space of the data set and staging directories (metrics, warning, refusal of a save that would not fit) */
  readonly disk: DiskSpaceWatch;

  constructor(
    @Inject(SAVE_WRITER_CONFIG) private readonly config: SaveWriterConfig,
    private readonly assignments: Assignments,
  ) {
    this.d = {
      dataDir: config.dataDir,
      databaseDir: config.databaseDir,
      now: config.now ?? Date.now,
      syncTimeoutMs: config.syncTimeoutMs ?? 30_000,
      captureTimeoutMs: config.captureTimeoutMs ?? 30_000,
      dsimTimeoutMs: config.dsimTimeoutMs ?? 30_000,
      progressEveryMs: config.progressEveryMs ?? 1_000,
      log: config.log ?? ((m: string) => console.log(`[save-writer] ${m}`)),
      fsync: config.fsync ?? true,
    };
    this.cpFile = checkpointPath(config.dataDir);
    if (config.maxBytesPerSec !== undefined) this.throttle = new Throttle(config.maxBytesPerSec);
    this.streams = new StreamOutput({ brokers: config.brokers, clientId: 'save-writer-sov', dataDir: config.dataDir, timeoutMs: config.streamTimeoutMs ?? 120_000, log: this.d.log });
    this.disk = new DiskSpaceWatch({ dirs: { datasets: path.join(config.dataDir, 'datasets') }, ...(config.diskThreshold ? { threshold: config.diskThreshold } : {}), log: this.d.log });
  }

  private expiryDeps(): ExpiryDeps {
    return { dataDir: this.d.dataDir, now: this.d.now, log: this.d.log, publish: (...m) => this.publish(...m) };
  }

  /** A data set retention command from dsf.commands (data-set-expiry.ts). */
  async onRetentionCommand(m: MessageOfType<'DataSetExpireRequested'> | MessageOfType<'RetentionSetRequested'>): Promise<void> {
    if (m.type === 'DataSetExpireRequested') await onDataSetExpireRequested(this.expiryDeps(), m);
    else await onRetentionSetRequested(this.expiryDeps(), m);
  }

  /**
   * Before any command is consumed: reads the log up to its end (dsf.block-changes from the
   * checkpoint), then reports the saves a crash left unfinished.
   */
  async onModuleInit(): Promise<void> {
    const clientId = this.config.clientId ?? 'save-writer';
    this.publisher = new EventPublisher<AnyMessage>(this.config.brokers, clientId, (m) => encodeMessage(m));
    await this.publisher.connect();
    this.disk.start();
    const checkpoint = readCheckpoint(this.cpFile, this.d.log);
    if (checkpoint) this.restoreNucleus(checkpoint.nucleus);
    this.tail = new TopicReader<TailMessage>({
      brokers: this.config.brokers,
      clientId,
      // dsf.nucleus-state (from 0: small) keeps the nucleus state of dsf.block-changes records the retention deleted
      topics: ['dsf.events', 'dsf.block-changes', 'dsf.nucleus-state', 'dsf.dlog'],
      // block images are the bulk of dsf.block-changes and say nothing the save writer needs
      skipTypes: ['BlockChanged', 'UtilityChanged', 'DlogRecorded', 'SaveProgress', 'OperationProgress'],
      onMessage: (m, at) => this.onLog(m, at),
      log: this.d.log,
      ...(checkpoint ? { from: checkpoint.positions } : {}),
    });
    await this.tail.start();
    await this.tail.caughtUp;
    this.saveCheckpoint();
    this.cpTimer = setInterval(() => this.saveCheckpoint(), this.config.checkpointEveryMs ?? 30_000);
    this.cpTimer.unref();
    // saves of the databases this instance owns, started by an instance that is gone, are failed:
    // when the owned databases change (at start too), and every reapEveryMs (a member that dies
    // owning nothing changes no assignment)
    this.assignments.listen(() => this.reap());
    this.reapTimer = setInterval(() => void this.reap().catch((e) => this.d.log(`checking for lost saves failed: ${(e as Error).message}`)), this.config.reapEveryMs ?? 10_000);
    this.reapTimer.unref();
  }

  /** Positions and nucleus states are taken in one synchronous step, so they agree. */
  private saveCheckpoint(): void {
    if (!this.tail) return;
    try {
      writeCheckpoint(this.cpFile, { positions: this.tail.positions(), nucleus: this.nucleusStates() });
    } catch (err) {
      this.d.log(`could not write the tail checkpoint ${this.cpFile}: ${(err as Error).message}`);
    }
  }

  /** While the transport still runs: running saves are reported failed (or, after kill(), left as a crash leaves them). */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.cpTimer);
    clearInterval(this.reapTimer);
    this.disk.stop();
    await this.stop(this.killed);
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.killed) this.saveCheckpoint();
    await this.tail?.stop();
    await this.streams.close();
    await this.publisher?.close();
  }

  /** Stops as if killed (tests): running saves vanish without a report; the next start reports them failed. */
  simulateCrash(): void {
    this.killed = true;
  }

  private publish(...messages: AnyMessage[]): Promise<void> {
    return this.publisher!.publish(...messages);
  }

  /** Resolves once everything published before the call has been folded. */
  private barrier(): Promise<void> {
    return this.tail?.barrier() ?? Promise.resolve();
  }

  private state(dbid: number): SaveLifecycleState {
    return this.states.get(dbid) ?? saveLifecycle.initialState();
  }

  private apply(dbid: number, events: readonly SaveEvent[]): void {
    this.states.set(dbid, events.reduce(saveLifecycle.evolve, this.state(dbid)));
  }

  private decideAndApply(dbid: number, command: SaveCommand): SaveEvent[] {
    const events = saveLifecycle.decide(command, this.state(dbid));
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
  onLog(m: TailMessage, at?: RecordAt): void {
    if (at?.topic === 'dsf.events' && 'dbid' in m && typeof m.dbid === 'number') this.partitionOf.set(m.dbid, at.partition);
    switch (m.type) {
      case 'NucleusState':
      case 'NucleusStateRecorded': {
        const prev = this.nucleus.get(m.dbid);
        if (prev === undefined || m.lsn >= prev.lsn) this.nucleus.set(m.dbid, { active: m.active, lsn: m.lsn });
        // seed: an offline save needs the nucleus inactive for its whole duration
        const r = this.state(m.dbid).running;
        if (m.active && r !== null && !r.online && r.dsid !== null && (r.startLsn === null || m.lsn > r.startLsn))
          this.aborted.set(r.correlationId, new SaveFailure('NUCLEUS_ACTIVATED', `the nucleus of database ${m.dbid} became active during this offline save (LSN ${m.lsn}): the save is not consistent`));
        return;
      }
      case 'EtSync':
        this.syncs.answer(m.syncId, m.lsn);
        return;
      case 'DlogCaptured':
        this.captures.answer(m.correlationId, m);
        return;
      case 'DsimAcquired':
        this.dsims.answer(m.correlationId, { acquired: true });
        return;
      case 'DsimRejected':
        this.dsims.answer(m.correlationId, { acquired: false, code: m.code, reason: m.reason });
        return;
      case 'SaveStarted': {
        this.started.set(m.correlationId, { dbid: m.dbid, ...(m.instance ? { instance: m.instance } : {}), ...(m.destination ? { destination: m.destination } : {}) });
        const s = this.state(m.dbid);
        if (s.handled.has(m.correlationId)) return; // our own, already applied
        this.apply(m.dbid, [
          { type: 'SaveAccepted', correlationId: m.correlationId, kind: m.kind, online: m.online },
          { type: 'SaveStarted', correlationId: m.correlationId, dsid: m.dsid, kind: m.kind, online: m.online, startLsn: m.startLsn ?? null },
        ]);
        return;
      }
      case 'SaveCompleted': {
        this.started.delete(m.correlationId);
        if (this.state(m.dbid).running?.correlationId !== m.correlationId) return;
        this.apply(m.dbid, [{ type: 'SaveCompleted', correlationId: m.correlationId, dsid: m.dsid, endLsn: m.endLsn ?? null, blocks: m.blocks }]);
        return;
      }
      case 'SaveFailed': {
        this.started.delete(m.correlationId);
        const s = this.state(m.dbid);
        if (s.running?.correlationId === m.correlationId)
          this.apply(m.dbid, [{ type: 'SaveFailed', correlationId: m.correlationId, dsid: m.dsid ?? null, code: m.code, reason: m.reason }]);
        else if (!s.handled.has(m.correlationId))
          this.apply(m.dbid, [{ type: 'SaveRejected', correlationId: m.correlationId, code: 'VALIDATION', reason: m.reason }]);
        return;
      }
      case 'RestoreCompleted': {
        // the database itself went back to the restored status: its next saves continue on a new lineage
        if (!m.intoDatabase) return;
        try {
          this.decideAndApply(m.dbid, { type: 'RecordRestore', restored: m.dsid });
        } catch (err) {
          this.d.log(`restore ${m.correlationId} of database ${m.dbid} not recorded in the DSID chain: ${(err as Error).message}`);
        }
        return;
      }
      case 'DsimReset': {
        // a forced reset of the DSIM a running online save is collecting: that save cannot be consistent
        const r = this.state(m.dbid).running;
        if (r !== null && r.online && r.dsid !== null && m.dsid !== undefined && sameDsid(r.dsid, m.dsid))
          this.aborted.set(r.correlationId, new SaveFailure('DSIM_RESET', `the DSIM of this online save was reset (${m.correlationId}) while it ran`));
        return;
      }
      default:
        return;
    }
  }

  /**
   * Fails the saves of owned databases that nobody runs any more: started by an instance that is
   * no longer a member of the group (killed, or this process before a restart), or accepted by
   * no instance that can still report them. Their DLOG capture returns to the next delta; a
   * `.partial` they left is removed (only theirs: other work in the folder is left alone).
   */
  reap(): Promise<void> {
    const run = this.reaping.then(async () => {
      if (this.stopping || !this.assignments.assigned) return;
      const owned = this.assignments.indices();
      let live: ReadonlySet<string> | undefined;
      for (const [dbid, s] of this.states) {
        const r = s.running;
        if (r === null || this.mine.has(r.correlationId)) continue;
        const partition = this.partitionOf.get(dbid);
        if (partition === undefined || !owned.has(partition)) continue;
        const info = this.started.get(r.correlationId);
        live ??= await this.assignments.liveInstances();
        if (info?.instance !== undefined && live.has(info.instance)) continue; // still running elsewhere
        // the lifecycle may have moved on while the group was asked
        if (this.state(dbid).running?.correlationId !== r.correlationId || this.mine.has(r.correlationId)) continue;
        if (info?.destination) {
          try {
            const file = info.destination.kind === 'directory' ? dataSetPath(this.d.dataDir, info.destination.name) : this.streams.stagingFile('save', r.correlationId);
            fs.rmSync(`${file}${PARTIAL_SUFFIX}`, { force: true });
            if (info.destination.kind === 'stream') fs.rmSync(file, { force: true });
          } catch (e) {
            this.d.log(`could not remove the partial data set of save ${r.correlationId}: ${(e as Error).message}`);
          }
        }
        await this.fail(dbid, r.correlationId, 'WRITER_RESTARTED', `the save writer running this save${info?.instance ? ` (${info.instance})` : ''} is gone; its DLOG capture returns to the next delta`);
      }
    });
    this.reaping = run.catch(() => undefined);
    return run;
  }

  /** A SaveRequested from dsf.commands. Resolves once the save is decided (it then runs in the background). */
  async onSaveRequested(m: MessageOfType<'SaveRequested'>): Promise<void> {
    await this.barrier();
    const nucleus = this.nucleus.get(m.dbid);
    this.decideAndApply(m.dbid, { type: 'RecordNucleusState', active: nucleus?.active ?? false });
    const events = this.decideAndApply(m.dbid, { type: 'RequestSave', correlationId: m.correlationId, kind: m.kind, online: m.online });
    if (events.length === 0) {
      this.d.log(`save ${m.correlationId}: already handled, ignored`);
      return;
    }
    const e = events[0];
    if (e.type === 'SaveRejected') {
      this.d.log(`save ${m.correlationId} refused: ${e.code}: ${e.reason}`);
      await this.publish({ type: 'SaveFailed', correlationId: m.correlationId, dbid: m.dbid, code: e.code, reason: e.reason, occurredAt: this.d.now() });
      return;
    }
    this.mine.add(m.correlationId);
    const p = this.run(m).finally(() => {
      this.running.delete(p);
      this.mine.delete(m.correlationId);
    });
    this.running.add(p);
  }

  private async run(m: MessageOfType<'SaveRequested'>): Promise<void> {
    const { dbid, correlationId: cid } = m;
    let writer: DataSetWriter | null = null;
    let db: BlockDatabase | null = null;
    let staged: string | null = null;
    try {
      const dest = m.destination;
      const file = this.target(dest, cid);
      // to a stream: straight into its client file, or staged first when the header changes at the
      // end (an online save's end LSN) and the client file is append-only
      staged = dest.kind === 'stream' && m.online ? file : null;
      if (dest.kind === 'directory' || staged) fs.mkdirSync(path.dirname(file), { recursive: true });
      if (dest.kind === 'stream') fs.rmSync(file, { force: true }); // a redelivered command's leftover
      else if (fs.existsSync(file)) throw new SaveFailure('ALREADY_EXISTS', `data set ${path.basename(file)} already exists`);
      const dir = (this.d.databaseDir ?? ((n: number) => databaseDir(this.d.dataDir, n)))(dbid);
      if (!BlockDatabase.exists(dir)) throw new SaveFailure('NOT_FOUND', `no database ${dbid} at ${dir}`);
      db = BlockDatabase.open(dir, { readOnly: true });

      // online: the start sync; offline: the LSN at which the nucleus became inactive, so the
      // change logger captures the DLOG exactly there (everything the nucleus wrote is in it)
      const startLsn: number | null = m.online ? await this.sync(dbid, `${cid}.start`, cid) : (this.nucleus.get(dbid)?.lsn ?? null);
      const started = this.decideAndApply(dbid, { type: 'StartSave', correlationId: cid, startLsn, now: this.d.now() })[0];
      if (started?.type !== 'SaveStarted') throw new SaveFailure('ILLEGAL_STATE', 'the save could not start');
      const dsid = started.dsid;
      await this.publish({
        type: 'SaveStarted',
        correlationId: cid,
        dbid,
        dsid,
        kind: m.kind,
        online: m.online,
        ...(startLsn !== null ? { startLsn } : {}),
        instance: this.assignments.instanceId,
        destination: m.destination,
        occurredAt: this.d.now(),
      });
      this.d.log(`save ${cid}: started ${m.kind} ${m.online ? 'online' : 'offline'} save of database ${dbid}${startLsn !== null ? ` at sync LSN ${startLsn}` : ''}`);

      // online: the DSIM builder (the one authority on the DSIM) must have acquired the DSIM before a block is copied
      if (m.online) {
        const dsim = await this.dsims.wait(cid, this.d.dsimTimeoutMs, () => new SaveFailure('DSIM_TIMEOUT', `the DSIM builder did not acquire the DSIM for this save within ${this.d.dsimTimeoutMs} ms`));
        if (!dsim.acquired) throw new SaveFailure(dsim.code, dsim.reason);
      }

      let ranges: readonly BlockRange[];
      let headerLsn = startLsn ?? 0;
      // which blocks: every used block, or exactly what the change logger captured for this save
      if (m.kind === 'full') ranges = blocksOfFullSave(db.geometry);
      else {
        const capture = await this.capture(cid);
        if (!m.online) headerLsn = capture.syncLsn;
        ranges = capture.ranges;
      }
      const total = ranges.reduce((n, r) => n + (r.to - r.from + 1), 0);
      if (m.kind === 'delta') this.d.log(`save ${cid}: DLOG captured, ${total} blocks to save`);
      // straight into a stream's client file: nothing written here
      const direct = dest.kind === 'stream' && !staged ? { stream: dest.stream, name: dest.name ?? cid } : null;
      // refused before a byte is written when it would not fit (a full disk midway loses the save and starves the others)
      const blockSize = Math.max(db.geometry.asso.blockSize, db.geometry.data.blockSize);
      try {
        if (!direct) this.disk.check(path.dirname(file), total * (blockSize + 16) + 1024 * 1024, `save ${cid} (${total} blocks)`);
      } catch (e) {
        throw new SaveFailure('DISK_NEARLY_FULL', (e as Error).message);
      }

      writer = await DataSetWriter.create(
        direct ? { sink: await this.streams.open(direct, { dbid, dsid, kind: m.kind, correlationId: cid }), name: direct.name } : file,
        { dbid, dsid, kind: m.kind, online: m.online, startLsn: headerLsn, endLsn: headerLsn, geometry: db.geometry },
        { fsync: this.d.fsync, endLsnLater: m.online },
      );
      let written = 0;
      let lastProgress = this.d.now();
      for (const r of ranges) {
        for (const b of db.blocksIn(r)) {
          if (this.stopping) throw new SaveFailure('WRITER_STOPPED', 'the save writer was stopped during the save');
          const abort = this.aborted.get(cid);
          if (abort) throw abort;
          if (this.throttle) await this.throttle.take(b.image.length);
          await writer.writeBlock(b.area, b.rabn, b.image);
          written++;
          if (this.d.now() - lastProgress >= this.d.progressEveryMs) {
            lastProgress = this.d.now();
            this.decideAndApply(dbid, { type: 'RecordProgress', correlationId: cid, blocksWritten: written, blocksTotal: total });
            await this.publish({ type: 'SaveProgress', correlationId: cid, dbid, blocksWritten: written, blocksTotal: total, occurredAt: lastProgress });
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
      let location: Location = { kind: 'directory', name: path.basename(file) };
      if (dest.kind === 'stream') {
        const name = dest.name ?? cid;
        const sent = staged ? await this.streams.send(file, { stream: dest.stream, name }, { dbid, dsid, kind: m.kind, correlationId: cid }) : (out.sinkResult as ClientFileWritten);
        if (staged) fs.rmSync(staged, { force: true });
        staged = null;
        location = { kind: 'stream', stream: dest.stream, clientFile: name };
        this.d.log(`save ${cid}: client file ${name} closed on stream ${dest.stream} (${sent.superblocks} superblocks on ${sent.volsers.join(', ')}${direct ? '' : ', staged first'})`);
      }
      this.decideAndApply(dbid, { type: 'CompleteSave', correlationId: cid, endLsn, blocks: written });
      await this.publish({
        type: 'SaveCompleted',
        correlationId: cid,
        dbid,
        dsid,
        kind: m.kind,
        online: m.online,
        ...(startLsn !== null ? { startLsn } : {}),
        ...(endLsn !== null ? { endLsn } : {}),
        location,
        blocks: written,
        bytes: out.bytes,
        digest: out.digest,
        occurredAt: this.d.now(),
      });
      this.d.log(`save ${cid}: completed, ${written} blocks in ${location.kind === 'directory' ? location.name : `${location.stream}/${location.clientFile}`}`);
    } catch (err) {
      await writer?.abort((err as Error).message).catch(() => undefined);
      if (staged) fs.rmSync(staged, { force: true });
      if (this.killed) return; // simulated crash: report nothing, the next start does
      const code = err instanceof SaveFailure ? err.code : typeof (err as { code?: unknown }).code === 'string' ? String((err as { code: string }).code) : 'INTERNAL';
      await this.fail(dbid, cid, /^[A-Z][A-Z0-9_]*$/.test(code) ? code : 'INTERNAL', (err as Error).message || String(err));
    } finally {
      db?.close();
      this.aborted.delete(cid);
    }
  }

  private async fail(dbid: number, cid: string, code: string, reason: string): Promise<void> {
    const events = this.decideAndApply(dbid, { type: 'FailSave', correlationId: cid, code, reason });
    const f = events[0];
    this.d.log(`save ${cid}: failed: ${code}: ${reason}`);
    await this.publish({
      type: 'SaveFailed',
      correlationId: cid,
      dbid,
      ...(f?.type === 'SaveFailed' && f.dsid !== null ? { dsid: f.dsid } : {}),
      code,
      reason: reason.slice(0, 4000),
      occurredAt: this.d.now(),
    });
  }

  /** The file a save writes: its data set, or the staging file of a save to a stream. */
  private target(dest: Destination, correlationId: string): string {
    try {
      return dest.kind === 'directory' ? dataSetPath(this.d.dataDir, dest.name) : this.streams.stagingFile('save', correlationId);
    } catch (e) {
      throw new SaveFailure('VALIDATION', (e as Error).message);
    }
  }

  private async sync(dbid: number, syncId: string, correlationId: string): Promise<number> {
    if (!this.syncs.has(syncId)) await this.publish({ type: 'SyncRequested', dbid, syncId, correlationId });
    return this.syncs.wait(syncId, this.d.syncTimeoutMs, () => new SaveFailure('SYNC_TIMEOUT', `the nucleus did not answer sync ${syncId} within ${this.d.syncTimeoutMs} ms`));
  }

  private capture(correlationId: string): Promise<MessageOfType<'DlogCaptured'>> {
    return this.captures.wait(correlationId, this.d.captureTimeoutMs, () => new SaveFailure('CAPTURE_TIMEOUT', `the change logger did not capture the DLOG for this save within ${this.d.captureTimeoutMs} ms`));
  }

  /** Stops: running saves fail (reported) or, with `kill`, vanish as in a crash (reported at the next start). */
  private async stop(kill = false): Promise<void> {
    this.killed = kill;
    this.stopping = true;
    const stopped = new SaveFailure('WRITER_STOPPED', 'the save writer was stopped during the save');
    for (const a of [this.syncs, this.captures, this.dsims] as Answers<unknown>[]) a.close(stopped);
    await Promise.allSettled([...this.running]);
  }
}
