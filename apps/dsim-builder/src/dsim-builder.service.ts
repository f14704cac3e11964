/**
 * Builds each online save's DSIM from the PLOG (DESIGN "Online save"; seed "PLOG and DSIM Data
 * Set Processing"). Every state change is the DSIM decider's (@deltaflow/save-chain `dsim`):
 * this provider loads the state of a database, asks the decider, stores what it decided (rows
 * and the consumed offset in one transaction), and publishes the decider's public events on
 * dsf.events. PostgreSQL keeps the PLOG copy and answers "the last image per block in the
 * window (start, end]" that the decider names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { BlockDatabase, databaseDir } from '@deltaflow/blockdb';
import { encodeMessage, type AnyMessage, type MessageOfType, type TopicMessage } from '@deltaflow/contracts';
import { applyBatchOnce, applyOnce } from '@deltaflow/persistence';
import { dsim, type DsimCommand, type DsimEvent, type DsimState } from '@deltaflow/save-chain';
import { DataSetWriter, dataSetPath, type DataSetSink } from '@deltaflow/save-format';
import { sameDsid } from '@deltaflow/dsid';
import { Assignments, EventPublisher, SovClientError, StreamOutput, type AssignmentChange, type RecordAt } from '@deltaflow/service-kit';
import type { DataSource, EntityManager } from 'typeorm';
import { countBlocks, DSIM_BUILDER_PROJECTION, forgetCompletedSave, forgetImages, insertImages, insertSyncs, lastImages, loadDsim, openDsimDataSource, recordCompletedSave, saveDsim } from './dsim-store';
import { PlogRetention } from './plog-retention';

export interface DsimBuilderConfig {
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly groupId?: string;
  readonly databaseDir?: (dbid: number) => string;
  readonly fsync?: boolean;
  readonly log?: (m: string) => void;
  readonly now?: () => number;
  /** PLOG retention: keep dsf.plog since the start of the last N completed saves per database (0: keep it all) */
  readonly plogKeepSaves?: number;
  /** how often the PLOG retention runs (default 60 s) */
  readonly plogRetentionIntervalMs?: number;
  /** how long a DSIM unload to a stream waits for the multiplexer to close its client file (default 120 s) */
  readonly streamTimeoutMs?: number;
}

export const DSIM_BUILDER_CONFIG = Symbol('DSIM_BUILDER_CONFIG');

type PublicDsimEvent = Extract<DsimEvent, { type: 'DsimAcquired' | 'DsimCompleted' | 'DsimUnloaded' | 'DsimReset' | 'DsimReleased' }>;
const PUBLIC: ReadonlySet<DsimEvent['type']> = new Set(['DsimAcquired', 'DsimCompleted', 'DsimUnloaded', 'DsimReset', 'DsimReleased']);
const isPublic = (e: DsimEvent): e is PublicDsimEvent => PUBLIC.has(e.type);

@Injectable()
export class DsimBuilderService implements OnModuleInit, OnApplicationShutdown {
  private ds!: DataSource;
  private publisher!: EventPublisher<AnyMessage>;
  /** DSIM unloads to a stream: written straight into a client file */
  private streams!: StreamOutput;
  /** truncates dsf.plog below what is secured (when plogKeepSaves > 0) */
  retention?: PlogRetention;
  private readonly log: (m: string) => void;
  private readonly now: () => number;

  constructor(
    @Inject(DSIM_BUILDER_CONFIG) private readonly config: DsimBuilderConfig,
    private readonly assignments: Assignments,
  ) {
    this.log = config.log ?? ((m: string) => console.log(`[dsim-builder] ${m}`));
    this.now = config.now ?? Date.now;
  }

  async onModuleInit(): Promise<void> {
    this.ds = await openDsimDataSource(this.config.databaseUrl);
    this.publisher = new EventPublisher<AnyMessage>(this.config.brokers, 'dsim-builder', (m) => encodeMessage(m));
    await this.publisher.connect();
    this.streams = new StreamOutput({ brokers: this.config.brokers, clientId: 'dsim-builder-sov', dataDir: this.config.dataDir, timeoutMs: this.config.streamTimeoutMs ?? 120_000, log: this.log });
    if ((this.config.plogKeepSaves ?? 0) > 0) {
      this.retention = new PlogRetention({ brokers: this.config.brokers, ds: this.ds, keepSaves: this.config.plogKeepSaves!, intervalMs: this.config.plogRetentionIntervalMs ?? 60_000, log: this.log });
      await this.retention.start();
    }
    this.assignments.listen((change) => this.readFromCheckpoints(change));
  }

  /**
   * PostgreSQL, not Kafka's committed offset, says what was applied: every record is applied in a
   * transaction with its offset (applyOnce). A partition gained is read from that checkpoint, so a
   * database that lost acknowledged commits (an asynchronous replica promoted) gets the records
   * between the two again instead of skipping them; ahead of it, nothing is read twice.
   */
  private async readFromCheckpoints(change: AssignmentChange): Promise<void> {
    if (change.gained.size === 0) return;
    const rows: Array<{ topic: string; partition: number; next_offset: string }> = await this.ds.query(
      'SELECT topic, partition, next_offset FROM projection_checkpoint WHERE projection = $1',
      [DSIM_BUILDER_PROJECTION],
    );
    for (const r of rows) {
      if (!change.gained.has(r.partition) || !(change.assignment.get(r.topic) ?? []).includes(r.partition)) continue;
      this.assignments.rewind(r.topic, r.partition, BigInt(r.next_offset));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.retention?.stop();
    await this.streams?.close();
    await this.publisher?.close();
    if (this.ds?.isInitialized) await this.ds.destroy();
  }

  /** Asks the decider, applies its events, stores the state; returns the events (public ones published by the caller's transaction). */
  private async decide(m: EntityManager, dbid: number, command: DsimCommand, state?: DsimState): Promise<{ events: DsimEvent[]; before: DsimState; after: DsimState }> {
    const before = state ?? (await loadDsim(m, dbid));
    const events = dsim.decide(command, before);
    const after = events.reduce(dsim.evolve, before);
    if (events.length > 0) {
      await saveDsim(m, dbid, after);
      const forgettable = dsim.plogForgettableThrough(after);
      if (forgettable !== null && forgettable !== dsim.plogForgettableThrough(before)) await forgetImages(m, dbid, forgettable);
      await this.publish(dbid, events);
    }
    return { events, before, after };
  }

  private async publish(dbid: number, events: readonly DsimEvent[]): Promise<void> {
    const occurredAt = this.now();
    await this.publisher.publish(...events.filter(isPublic).map((e) => ({ ...e, dbid, occurredAt }) as AnyMessage));
  }

  /** A batch of dsf.plog records of one partition: images stored, sync points recorded, in one transaction. */
  async onPlog(records: ReadonlyArray<{ message: TopicMessage<'dsf.plog'>; at: RecordAt }>): Promise<void> {
    if (records.length === 0) return;
    const { topic, partition } = records[0].at;
    await applyBatchOnce(this.ds, { projection: DSIM_BUILDER_PROJECTION, topic, partition }, records.map((r) => r.at.offset), async (m, firstNew) => {
      const fresh = records.slice(firstNew).map((r) => r.message);
      await insertImages(m, fresh.flatMap((p) => (p.type === 'PlogImage' ? [p] : [])));
      // where each sync point is on the topic: the retention cuts there (plog-retention.ts)
      await insertSyncs(m, partition, records.slice(firstNew).flatMap((r) => (r.message.type === 'PlogSync' ? [{ offset: r.at.offset, dbid: r.message.dbid, lsn: r.message.lsn }] : [])));
      const syncs = new Map<number, number>();
      for (const p of fresh) if (p.type === 'PlogSync') syncs.set(p.dbid, Math.max(syncs.get(p.dbid) ?? 0, p.lsn));
      for (const [dbid, lsn] of syncs) {
        await this.decide(m, dbid, { type: 'RecordPlogSync', lsn });
      }
    });
    // also when the records were applied already: a crash (or PostgreSQL gone) after their
    // transaction and before the completion leaves it to the redelivery
    const synced = new Set(records.flatMap((r) => (r.message.type === 'PlogSync' ? [r.message.dbid] : [])));
    for (const dbid of synced) await this.tryComplete(dbid);
  }

  /** dsf.events: online saves acquire the DSIM; their completion or failure ends its collection. */
  async onEvent(e: TopicMessage<'dsf.events'>, at: RecordAt): Promise<void> {
    await applyOnce(this.ds, { projection: DSIM_BUILDER_PROJECTION, ...at }, async (m) => {
      if (e.type === 'SaveStarted' && e.online) {
        const { events } = await this.decide(m, e.dbid, { type: 'Acquire', correlationId: e.correlationId, dsid: e.dsid, startLsn: e.startLsn ?? 0 });
        for (const r of events) {
          if (r.type !== 'DsimRejected') continue;
          // the save writer waits for this answer: the save fails with the DSIM rule's code
          this.log(`DSIM of database ${e.dbid} not acquired by save ${e.correlationId}: ${r.reason}`);
          await this.publisher.publish({ type: 'DsimRejected', correlationId: e.correlationId, dbid: e.dbid, code: r.code, reason: r.reason, occurredAt: this.now() });
        }
      } else if (e.type === 'SaveCompleted') {
        // every completed save is a point the PLOG retention keeps REGENERATE possible from
        if (e.startLsn !== undefined) await recordCompletedSave(m, e.dbid, e.correlationId, e.startLsn);
        if (e.online) await this.decide(m, e.dbid, { type: 'EndSave', correlationId: e.correlationId, outcome: 'completed', endLsn: e.endLsn ?? e.startLsn ?? 0 });
      } else if (e.type === 'SaveFailed') {
        await this.decide(m, e.dbid, { type: 'EndSave', correlationId: e.correlationId, outcome: 'failed' });
      } else if (e.type === 'DataSetExpired') {
        // the retention deleted the save's data sets: its rows here go (a DSIM still held for it, complete and never
        // unloaded, can serve no merge or restore any more: reset, which forgets its PLOG images)
        await forgetCompletedSave(m, e.dbid, e.save);
        const s = await loadDsim(m, e.dbid);
        const w = dsim.window(s);
        if (w?.complete && sameDsid(w.dsid, e.dsid)) {
          this.log(`DSIM of database ${e.dbid} reset: its save ${e.save} expired (${e.reason})`);
          await this.decide(m, e.dbid, { type: 'Reset', correlationId: e.correlationId, force: true }, s);
        }
      } else if (e.type === 'MergeCompleted' && e.releasedDsid) {
        // the merge consumed the original DSIM with its online save: it is free
        await this.decide(m, e.dbid, { type: 'Release', correlationId: e.correlationId, dsid: e.releasedDsid });
      }
    });
    // outside applyOnce, so a redelivery after a crash between the two still completes the DSIM
    if (e.type === 'SaveCompleted' && e.online) await this.tryComplete(e.dbid);
  }

  /** Completes the DSIM when the decider says it is due (its save ended and the PLOG was read through the end sync). */
  private async tryComplete(dbid: number): Promise<void> {
    await this.ds.transaction(async (m) => {
      const s = await loadDsim(m, dbid);
      const due = dsim.completionDue(s);
      if (due === null) return;
      const blocks = await countBlocks(m, dbid, due.startLsn, due.endLsn!);
      const { events } = await this.decide(m, dbid, { type: 'Complete', correlationId: due.correlationId, blocks }, s);
      for (const e of events) if (e.type === 'DsimCompleted') this.log(`DSIM of database ${dbid} complete: ${e.blocks} blocks in (${e.startLsn}, ${e.endLsn}]`);
    });
  }

  /** dsf.commands: DSIM unload, reset, print. */
  async onCommand(c: TopicMessage<'dsf.commands'>, at: RecordAt): Promise<void> {
    if (c.type !== 'DsimUnloadRequested' && c.type !== 'DsimResetRequested' && c.type !== 'DsimPrintRequested' && c.type !== 'DsimSnapshotRequested') return;
    await applyOnce(this.ds, { projection: DSIM_BUILDER_PROJECTION, ...at }, async (m) => {
      switch (c.type) {
        case 'DsimUnloadRequested':
          return this.unload(m, c);
        case 'DsimResetRequested': {
          const { events } = await this.decide(m, c.dbid, { type: 'Reset', correlationId: c.correlationId, force: c.force });
          for (const r of events) if (r.type === 'DsimRejected') await this.reject(c, r.code, r.reason);
          return;
        }
        case 'DsimSnapshotRequested':
          return this.snapshot(m, c);
        case 'DsimPrintRequested':
          return this.print(m, c);
        default: {
          const never: never = c;
          throw new Error(`unexpected command ${JSON.stringify(never)}`);
        }
      }
    });
  }

  private async reject(c: { type: string; correlationId: string; dbid: number }, code: string, reason: string, field?: string): Promise<void> {
    this.log(`${c.type} ${c.correlationId} rejected: ${code}: ${reason}`);
    await this.publisher.publish({ type: 'CommandRejected', correlationId: c.correlationId, dbid: c.dbid, commandType: c.type, code, reason, ...(field ? { field } : {}), occurredAt: this.now() });
  }

  private async unload(m: EntityManager, c: MessageOfType<'DsimUnloadRequested'>): Promise<void> {
    const s = await loadDsim(m, c.dbid);
    const refused = dsim.decide({ type: 'Unload', correlationId: c.correlationId }, s).find((e) => e.type === 'DsimRejected');
    if (refused?.type === 'DsimRejected') return this.reject(c, refused.code, refused.reason);
    const dest = c.destination;
    if (dest.kind === 'directory') {
      const written = await this.writeWindow(m, c, { name: dest.name }, 'unloaded-dsim', s);
      if (written === null) return;
      await this.decide(m, c.dbid, { type: 'RecordUnloaded', correlationId: c.correlationId, location: { kind: 'directory', name: dest.name }, ...written }, s);
      this.log(`DSIM of database ${c.dbid} unloaded to ${dest.name}: ${written.blocks} blocks`);
      return;
    }
    // to a stream: written straight into one client file; the DSIM is unloaded only once it is closed
    const name = dest.name ?? c.correlationId;
    const win = dsim.window(s)!;
    let written: { blocks: number; digest: string } | null;
    try {
      written = await this.writeWindow(m, c, { name, sink: () => this.streams.open({ stream: dest.stream, name }, { dbid: c.dbid, dsid: win.dsid, kind: 'dsim', correlationId: c.correlationId }) }, 'unloaded-dsim', s);
    } catch (e) {
      if (!(e instanceof SovClientError)) throw e;
      return this.reject(c, e.code, `the DSIM was not unloaded to stream ${dest.stream}: ${e.message}`, 'destination');
    }
    if (written === null) return;
    await this.decide(m, c.dbid, { type: 'RecordUnloaded', correlationId: c.correlationId, location: { kind: 'stream', stream: dest.stream, clientFile: name }, ...written }, s);
    this.log(`DSIM of database ${c.dbid} unloaded to stream ${dest.stream} as ${name}: ${written.blocks} blocks`);
  }

  /** A copy of the original DSIM for a merge or restore that reads it where it lives; the DSIM stays in use. */
  private async snapshot(m: EntityManager, c: MessageOfType<'DsimSnapshotRequested'>): Promise<void> {
    const s = await loadDsim(m, c.dbid);
    const refused = dsim.decide({ type: 'Snapshot', correlationId: c.correlationId }, s).find((e) => e.type === 'DsimRejected');
    if (refused?.type === 'DsimRejected') return this.reject(c, refused.code, refused.reason);
    const written = await this.writeWindow(m, c, { name: c.destination }, 'original-dsim', s);
    if (written === null) return;
    const w = dsim.window(s)!;
    await this.publisher.publish({ type: 'DsimSnapshotted', correlationId: c.correlationId, dbid: c.dbid, dsid: w.dsid, location: { kind: 'directory', name: c.destination }, ...written, occurredAt: this.now() });
  }

  /** Writes the DSIM's window (the last image per block in (start, end]) as a data set; null when refused (reported). */
  private async writeWindow(
    m: EntityManager,
    c: { type: string; correlationId: string; dbid: number },
    to: { name: string; sink?: () => Promise<DataSetSink> },
    kind: 'unloaded-dsim' | 'original-dsim',
    s: DsimState,
  ): Promise<{ blocks: number; digest: string } | null> {
    const name = to.name;
    let file = '';
    try {
      if (!to.sink) file = dataSetPath(this.config.dataDir, name);
    } catch (e) {
      await this.reject(c, 'VALIDATION', (e as Error).message, 'destination');
      return null;
    }
    const win = dsim.window(s);
    if (win === null || !win.complete || win.endLsn === null) throw new Error('the DSIM decider allowed a copy of a DSIM that is not complete');
    if (!to.sink && fs.existsSync(file)) {
      await this.reject(c, 'ALREADY_EXISTS', `data set ${name} already exists`, 'destination');
      return null;
    }
    const dir = this.config.databaseDir?.(c.dbid) ?? databaseDir(this.config.dataDir, c.dbid);
    if (!BlockDatabase.exists(dir)) {
      await this.reject(c, 'NOT_FOUND', `no database ${c.dbid} at ${dir} (its geometry heads the data set)`);
      return null;
    }
    const db = BlockDatabase.open(dir, { readOnly: true });
    const geometry = db.geometry;
    db.close();
    if (!to.sink) fs.mkdirSync(path.dirname(file), { recursive: true });
    const w = await DataSetWriter.create(to.sink ? { sink: await to.sink(), name } : file, { dbid: c.dbid, dsid: win.dsid, kind, online: false, startLsn: win.startLsn, endLsn: win.endLsn, geometry }, { fsync: this.config.fsync ?? true });
    let blocks = 0;
    try {
      for await (const b of lastImages(m, c.dbid, win.startLsn, win.endLsn)) {
        await w.writeBlock(b.area, b.rabn, b.image);
        blocks++;
      }
    } catch (e) {
      await w.abort((e as Error).message);
      throw e;
    }
    const out = await w.finish();
    return { blocks, digest: out.digest };
  }

  /** Prints the selected DSIM blocks (area, RABN, LSN, first bytes) to the service log. */
  private async print(m: EntityManager, c: MessageOfType<'DsimPrintRequested'>): Promise<void> {
    const s = await loadDsim(m, c.dbid);
    const refused = dsim.decide({ type: 'Print', correlationId: c.correlationId }, s).find((e) => e.type === 'DsimRejected');
    if (refused?.type === 'DsimRejected') return this.reject(c, refused.code, refused.reason);
    const w = dsim.window(s)!;
    const wanted = (area: string, rabn: number) => !c.blocks || c.blocks.some((r) => r.area === area && rabn >= r.from && rabn <= r.to);
    for await (const b of lastImages(m, c.dbid, w.startLsn, w.endLsn ?? Number.MAX_SAFE_INTEGER))
      if (wanted(b.area, b.rabn)) this.log(`DSIM ${c.dbid} ${b.area} ${b.rabn} lsn ${b.lsn}: ${Buffer.from(b.image).subarray(0, 32).toString('hex')}`);
  }
}
