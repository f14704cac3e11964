/**
 * Builds each online save's DSIM from the PLOG (DESIGN "Online save"; seed "PLOG and DSIM
 * Data Set Processing"): acquired at the save's start sync s (SaveStarted, online), it is the
 * last image of every block changed in (s, e]; it completes once the save completed at its end
 * sync e (SaveCompleted) AND the PLOG was read through e (PlogSync ≥ e); it is unloaded to a
 * sequential delta data set carrying the save's DSID, or reset. A failed online save resets it.
 * The lifecycle rules are the save-chain DSIM decider's; rows and offsets change in one transaction.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import type { AnyMessage, MessageOfType, TopicMessage } from '@deltaflow/contracts';
import { decideDsim, DsimCommand, DsimEvent, DsimState, evolveDsim } from '@deltaflow/save-chain';
import { SaveWriter } from '@deltaflow/save-format';
import { DataSource, EntityManager } from 'typeorm';
import { applyOnce, countBlocks, lastImages, loadDsim, lockCheckpoint, plogSyncLsn, saveDsim, setCheckpoint } from './dsim-store';

export interface DsimBuilderDeps {
  readonly ds: DataSource;
  readonly dataDir: string;
  readonly databaseDir?: (dbid: number) => string;
  readonly publish: (...m: AnyMessage[]) => Promise<void>;
  readonly now: () => number;
  readonly log: (m: string) => void;
  readonly fsync?: boolean;
}

export interface At {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class DsimBuilder {
  constructor(private readonly d: DsimBuilderDeps) {}

  private async decide(m: EntityManager, dbid: number, command: DsimCommand): Promise<{ events: DsimEvent[]; state: DsimState; completingAt: number | null }> {
    const row = await loadDsim(m, dbid);
    const events = decideDsim(command, row.state);
    return { events, state: events.reduce(evolveDsim, row.state), completingAt: row.completingAt };
  }

  /** A batch of dsf.plog records of one partition: one transaction, offsets already applied skipped. */
  async onPlog(records: ReadonlyArray<{ message: TopicMessage<'dsf.plog'>; at: At }>): Promise<void> {
    if (records.length === 0) return;
    const touched = new Set<number>();
    const { topic, partition } = records[0].at;
    await this.d.ds.transaction(async (m) => {
      const next = await lockCheckpoint(m, topic, partition);
      const fresh = records.filter((r) => BigInt(r.at.offset) >= next);
      if (fresh.length === 0) return;
      const images = fresh.flatMap((r) => (r.message.type === 'PlogImage' ? [r.message] : []));
      for (let i = 0; i < images.length; i += 500) {
        const chunk = images.slice(i, i + 500);
        await m.query(
          `INSERT INTO plog_image (dbid, area, rabn, lsn, image)
           SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::bigint[], $5::bytea[]) ON CONFLICT DO NOTHING`,
          [chunk.map((p) => p.dbid), chunk.map((p) => p.area), chunk.map((p) => p.rabn), chunk.map((p) => p.lsn), chunk.map((p) => Buffer.from(p.image))],
        );
      }
      for (const r of fresh) {
        const p = r.message;
        if (p.type !== 'PlogSync') continue;
        await m.query(
          `INSERT INTO plog_position (dbid, sync_lsn) VALUES ($1, $2) ON CONFLICT (dbid) DO UPDATE SET sync_lsn = GREATEST(plog_position.sync_lsn, $2)`,
          [p.dbid, p.lsn],
        );
        touched.add(p.dbid);
      }
      await setCheckpoint(m, topic, partition, BigInt(fresh[fresh.length - 1].at.offset) + 1n);
    });
    for (const dbid of touched) await this.tryComplete(dbid);
  }

  /** dsf.events: online saves acquire, complete and (on failure) reset the DSIM. */
  async onEvent(e: TopicMessage<'dsf.events'>, at: At): Promise<void> {
    let completeDbid: number | null = null;
    await applyOnce(this.d.ds, at, async (m) => {
      if (e.type === 'SaveStarted' && e.online) {
        const { events, state } = await this.decide(m, e.dbid, { type: 'Acquire', correlationId: e.correlationId, dsid: e.dsid, startLsn: e.startLsn ?? 0 });
        for (const ev of events) {
          if (ev.type === 'DsimRejected') {
            this.d.log(`DSIM of database ${e.dbid} not acquired by save ${e.correlationId}: ${ev.reason}`);
            return;
          }
        }
        if (events.length === 0) return;
        await saveDsim(m, e.dbid, state, null);
        await m.query(`DELETE FROM plog_image WHERE dbid = $1 AND lsn <= $2`, [e.dbid, e.startLsn ?? 0]);
        await this.d.publish({ type: 'DsimAcquired', correlationId: e.correlationId, dbid: e.dbid, dsid: e.dsid, startLsn: e.startLsn ?? 0, occurredAt: this.d.now() });
      } else if (e.type === 'SaveCompleted' && e.online) {
        const row = await loadDsim(m, e.dbid);
        if (row.state.status !== 'collecting' || row.state.correlationId !== e.correlationId) return;
        await saveDsim(m, e.dbid, row.state, e.endLsn ?? row.state.startLsn);
        completeDbid = e.dbid;
      } else if (e.type === 'SaveFailed') {
        const row = await loadDsim(m, e.dbid);
        if (row.state.status === 'free' || row.state.correlationId !== e.correlationId) return;
        await saveDsim(m, e.dbid, { status: 'free' }, null);
        await this.d.publish({ type: 'DsimReset', correlationId: e.correlationId, dbid: e.dbid, dsid: row.state.dsid, occurredAt: this.d.now() });
      }
    });
    if (completeDbid !== null) await this.tryComplete(completeDbid);
  }

  /** Completes the DSIM once its save ended and the PLOG was read through the end sync. */
  private async tryComplete(dbid: number): Promise<void> {
    await this.d.ds.transaction(async (m) => {
      const row = await loadDsim(m, dbid);
      const s = row.state;
      if (s.status !== 'collecting' || row.completingAt === null) return;
      const plog = await plogSyncLsn(m, dbid);
      if (plog === null || plog < row.completingAt) return;
      const blocks = await countBlocks(m, dbid, s.startLsn, row.completingAt);
      const events = decideDsim({ type: 'Complete', correlationId: s.correlationId, endLsn: row.completingAt }, s);
      if (events.length === 0) return;
      await saveDsim(m, dbid, events.reduce(evolveDsim, s), row.completingAt);
      await this.d.publish({
        type: 'DsimCompleted',
        correlationId: s.correlationId,
        dbid,
        dsid: s.dsid,
        startLsn: s.startLsn,
        endLsn: row.completingAt,
        blocks,
        occurredAt: this.d.now(),
      });
      this.d.log(`DSIM of database ${dbid} complete: ${blocks} blocks in (${s.startLsn}, ${row.completingAt}]`);
    });
  }

  /** dsf.commands: DSIM unload, reset, print. */
  async onCommand(c: TopicMessage<'dsf.commands'>, at: At): Promise<void> {
    if (c.type !== 'DsimUnloadRequested' && c.type !== 'DsimResetRequested' && c.type !== 'DsimPrintRequested') return;
    await applyOnce(this.d.ds, at, async (m) => {
      switch (c.type) {
        case 'DsimUnloadRequested':
          return this.unload(m, c);
        case 'DsimResetRequested': {
          const { events, state } = await this.decide(m, c.dbid, { type: 'Reset', correlationId: c.correlationId });
          const row = await loadDsim(m, c.dbid);
          const upTo = row.state.status === 'free' ? null : (row.completingAt ?? row.state.endLsn);
          await saveDsim(m, c.dbid, state, null);
          if (upTo !== null) await m.query(`DELETE FROM plog_image WHERE dbid = $1 AND lsn <= $2`, [c.dbid, upTo]);
          for (const ev of events)
            if (ev.type === 'DsimReset')
              await this.d.publish({ type: 'DsimReset', correlationId: c.correlationId, dbid: c.dbid, ...(ev.dsid ? { dsid: ev.dsid } : {}), occurredAt: this.d.now() });
          return;
        }
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
    this.d.log(`${c.type} ${c.correlationId} rejected: ${code}: ${reason}`);
    await this.d.publish({
      type: 'CommandRejected',
      correlationId: c.correlationId,
      dbid: c.dbid,
      commandType: c.type,
      code,
      reason,
      ...(field ? { field } : {}),
      occurredAt: this.d.now(),
    });
  }

  private async unload(m: EntityManager, c: MessageOfType<'DsimUnloadRequested'>): Promise<void> {
    if (c.destination.kind !== 'directory') return this.reject(c, 'UNSUPPORTED', 'stream destinations are not supported for DSIM unload yet', 'destination');
    const name = c.destination.name;
    if (!SAFE_NAME.test(name) || name.endsWith('.partial')) return this.reject(c, 'VALIDATION', `bad data set name ${JSON.stringify(name)}`, 'destination.name');
    const row = await loadDsim(m, c.dbid);
    const events = decideDsim({ type: 'Unload', correlationId: c.correlationId, destination: name }, row.state);
    const rejected = events.find((e) => e.type === 'DsimRejected');
    if (rejected?.type === 'DsimRejected') return this.reject(c, rejected.code, rejected.reason);
    const s = row.state;
    if (s.status === 'free' || s.endLsn === null) return this.reject(c, 'DSIM_NOT_COMPLETE', 'the DSIM is not complete');
    const file = path.join(this.d.dataDir, 'datasets', name);
    if (fs.existsSync(file)) return this.reject(c, 'ALREADY_EXISTS', `data set ${name} already exists`, 'destination.name');
    const own = path.join(this.d.dataDir, 'databases', String(c.dbid));
    const nucleus = path.join(this.d.dataDir, 'nucleus-sim', `db${c.dbid}`, 'db');
    const dir = this.d.databaseDir?.(c.dbid) ?? (!fs.existsSync(own) && fs.existsSync(nucleus) ? nucleus : own);
    if (!BlockDatabase.exists(dir)) return this.reject(c, 'NOT_FOUND', `no database ${c.dbid} at ${dir} (its geometry heads the data set)`);
    const db = BlockDatabase.open(dir, { readOnly: true });
    const geometry = db.geometry;
    db.close();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const w = await SaveWriter.create(
      file,
      { dbid: c.dbid, dsid: s.dsid, kind: 'dsim-unloaded', online: false, startLsn: s.startLsn, endLsn: s.endLsn, geometry },
      { fsync: this.d.fsync ?? true },
    );
    let blocks = 0;
    try {
      for await (const b of lastImages(m, c.dbid, s.startLsn, s.endLsn)) {
        await w.writeBlock(b.area, b.rabn, b.image);
        blocks++;
      }
    } catch (e) {
      await w.abort();
      throw e;
    }
    const out = await w.finish();
    await saveDsim(m, c.dbid, { status: 'free' }, null);
    await m.query(`DELETE FROM plog_image WHERE dbid = $1 AND lsn <= $2`, [c.dbid, s.endLsn]);
    await this.d.publish({
      type: 'DsimUnloaded',
      correlationId: c.correlationId,
      dbid: c.dbid,
      dsid: s.dsid,
      location: { kind: 'directory', name },
      blocks,
      digest: out.digest,
      occurredAt: this.d.now(),
    });
    this.d.log(`DSIM of database ${c.dbid} unloaded to ${name}: ${blocks} blocks`);
  }

  /** Prints the selected DSIM blocks (area, RABN, LSN, first bytes) to the service log. */
  private async print(m: EntityManager, c: MessageOfType<'DsimPrintRequested'>): Promise<void> {
    const row = await loadDsim(m, c.dbid);
    const s = row.state;
    if (s.status === 'free') return this.reject(c, 'DSIM_FREE', 'the DSIM is free: nothing to print');
    const end = s.endLsn ?? Number.MAX_SAFE_INTEGER;
    const wanted = (area: string, rabn: number) => !c.blocks || c.blocks.some((r) => r.area === area && rabn >= r.from && rabn <= r.to);
    for await (const b of lastImages(m, c.dbid, s.startLsn, end))
      if (wanted(b.area, b.rabn)) this.d.log(`DSIM ${c.dbid} ${b.area} ${b.rabn} lsn ${b.lsn}: ${b.image.subarray(0, 32).toString('hex')}`);
  }
}
