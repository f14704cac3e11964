/**
 * The DSIM builder's repository over PostgreSQL (raw SQL through TypeORM): the PLOG copy, and
 * the DSIM decider's state per database, stored as the decider left it. The store makes no
 * decision: which window makes the DSIM, when it completes and when PLOG images may go are the
 * decider's (@deltaflow/save-chain dsim); here they are only queried and written.
 */
import type { Area } from '@deltaflow/blocks';
import type { Dsid } from '@deltaflow/dsid';
import { CheckpointMigration, openDataSource } from '@deltaflow/persistence';
import type { DsimState } from '@deltaflow/save-chain';
import type { DataSource, EntityManager } from 'typeorm';
import { DsimBuilder1700000000001, DsimBuilder1700000000002, DsimBuilder1700000000003 } from './migrations';

/** The name of the DSIM builder's offsets in projection_checkpoint. */
export const DSIM_BUILDER_PROJECTION = 'dsim-builder';

export function openDsimDataSource(url: string): Promise<DataSource> {
  return openDataSource({ url, entities: [], migrations: [CheckpointMigration, DsimBuilder1700000000001, DsimBuilder1700000000002, DsimBuilder1700000000003] });
}

/** The DSIM state of a database, row-locked for the transaction. */
export async function loadDsim(m: EntityManager, dbid: number): Promise<DsimState> {
  const [p] = await m.query(`SELECT sync_lsn FROM plog_position WHERE dbid = $1`, [dbid]);
  const plogLsn = p === undefined ? null : Number(p.sync_lsn);
  const [r] = await m.query(`SELECT * FROM dsim WHERE dbid = $1 FOR UPDATE`, [dbid]);
  if (r === undefined || r.status === 'free') return { status: 'free', plogLsn, ...(r?.freed_through != null ? { freedThrough: Number(r.freed_through) } : {}) };
  return {
    status: r.status,
    plogLsn,
    correlationId: r.correlation_id,
    dsid: r.dsid as Dsid,
    startLsn: Number(r.start_lsn),
    endLsn: r.end_lsn === null ? null : Number(r.end_lsn),
    blocks: r.blocks === null ? null : Number(r.blocks),
  };
}

export async function saveDsim(m: EntityManager, dbid: number, s: DsimState): Promise<void> {
  if (s.plogLsn !== null) {
    await m.query(`INSERT INTO plog_position (dbid, sync_lsn) VALUES ($1, $2) ON CONFLICT (dbid) DO UPDATE SET sync_lsn = $2`, [dbid, s.plogLsn]);
  }
  if (s.status === 'free') {
    await m.query(
      `INSERT INTO dsim (dbid, status, freed_through) VALUES ($1, 'free', $2)
       ON CONFLICT (dbid) DO UPDATE SET status = 'free', correlation_id = NULL, dsid = NULL, start_lsn = NULL, end_lsn = NULL, blocks = NULL, freed_through = $2`,
      [dbid, s.freedThrough ?? null],
    );
    return;
  }
  await m.query(
    `INSERT INTO dsim (dbid, status, correlation_id, dsid, start_lsn, end_lsn, blocks) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (dbid) DO UPDATE SET status = $2, correlation_id = $3, dsid = $4, start_lsn = $5, end_lsn = $6, blocks = $7`,
    [dbid, s.status, s.correlationId, JSON.stringify(s.dsid), s.startLsn, s.endLsn, s.blocks],
  );
}

export interface PlogImageRow {
  readonly dbid: number;
  readonly area: Area;
  readonly rabn: number;
  readonly lsn: number;
  readonly image: Uint8Array;
}

/** Adds PLOG images (a redelivered image is already there and changes nothing). */
export async function insertImages(m: EntityManager, images: readonly PlogImageRow[]): Promise<void> {
  for (let i = 0; i < images.length; i += 500) {
    const chunk = images.slice(i, i + 500);
    await m.query(
      `INSERT INTO plog_image (dbid, area, rabn, lsn, image)
       SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::bigint[], $5::bytea[]) ON CONFLICT DO NOTHING`,
      [chunk.map((p) => p.dbid), chunk.map((p) => p.area), chunk.map((p) => p.rabn), chunk.map((p) => p.lsn), chunk.map((p) => Buffer.from(p.image))],
    );
  }
}

/** Forgets the PLOG images of a database at or below an LSN. */
export async function forgetImages(m: EntityManager, dbid: number, upTo: number): Promise<void> {
  await m.query(`DELETE FROM plog_image WHERE dbid = $1 AND lsn <= $2`, [dbid, upTo]);
}

/** Number of distinct blocks changed in (from, to]. */
export async function countBlocks(m: EntityManager, dbid: number, from: number, to: number): Promise<number> {
  const [r] = await m.query(`SELECT count(*)::int AS n FROM (SELECT DISTINCT area, rabn FROM plog_image WHERE dbid = $1 AND lsn > $2 AND lsn <= $3) x`, [dbid, from, to]);
  return r.n;
}

/** The last image of every block changed in (from, to], in (area, RABN) order, page by page. */
export async function* lastImages(m: EntityManager, dbid: number, from: number, to: number, page = 512): AsyncGenerator<PlogImageRow> {
  let after: [string, number] = ['', 0];
  for (;;) {
    const rows: Array<{ area: Area; rabn: number; lsn: string; image: Buffer }> = await m.query(
      `SELECT DISTINCT ON (area, rabn) area, rabn, lsn, image FROM plog_image
       WHERE dbid = $1 AND lsn > $2 AND lsn <= $3 AND (area, rabn) > ($4, $5)
       ORDER BY area, rabn, lsn DESC LIMIT $6`,
      [dbid, from, to, after[0], after[1], page],
    );
    for (const r of rows) yield { dbid, area: r.area, rabn: r.rabn, lsn: Number(r.lsn), image: r.image };
    if (rows.length < page) return;
    const last = rows[rows.length - 1];
    after = [last.area, last.rabn];
  }
}

/** The PlogSync records of a dsf.plog batch, by offset (what a retention cut is placed at). */
export async function insertSyncs(m: EntityManager, partition: number, syncs: ReadonlyArray<{ offset: string; dbid: number; lsn: number }>): Promise<void> {
  for (const s of syncs) {
    await m.query(`INSERT INTO plog_sync (partition, kafka_offset, dbid, lsn) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [partition, s.offset, s.dbid, s.lsn]);
  }
}

export async function recordCompletedSave(m: EntityManager, dbid: number, correlationId: string, startLsn: number): Promise<void> {
  await m.query(`INSERT INTO completed_save (dbid, correlation_id, start_lsn) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [dbid, correlationId, startLsn]);
}

/** A save whose data sets expired is no point the PLOG retention keeps REGENERATE possible from. */
export async function forgetCompletedSave(m: EntityManager, dbid: number, correlationId: string): Promise<void> {
  await m.query(`DELETE FROM completed_save WHERE dbid = $1 AND correlation_id = $2`, [dbid, correlationId]);
}

/** What plogRetention needs of one dsf.plog partition: its databases' syncs and completed saves, and the applied offset. */
export async function retentionFacts(
  m: EntityManager,
  topic: string,
  partition: number,
): Promise<{ applied: number; databases: Array<{ dbid: number; saveStarts: number[]; syncs: Array<{ lsn: number; offset: number }> }> }> {
  const [cp] = await m.query(`SELECT next_offset FROM projection_checkpoint WHERE projection = $1 AND topic = $2 AND partition = $3`, [DSIM_BUILDER_PROJECTION, topic, partition]);
  const syncs: Array<{ dbid: number; lsn: string; kafka_offset: string }> = await m.query(`SELECT dbid, lsn, kafka_offset FROM plog_sync WHERE partition = $1`, [partition]);
  const dbids = [...new Set(syncs.map((s) => s.dbid))];
  const saves: Array<{ dbid: number; start_lsn: string }> = dbids.length ? await m.query(`SELECT dbid, start_lsn FROM completed_save WHERE dbid = ANY($1)`, [dbids]) : [];
  return {
    applied: cp ? Number(cp.next_offset) : 0,
    databases: dbids.map((dbid) => ({
      dbid,
      saveStarts: saves.filter((s) => s.dbid === dbid).map((s) => Number(s.start_lsn)),
      syncs: syncs.filter((s) => s.dbid === dbid).map((s) => ({ lsn: Number(s.lsn), offset: Number(s.kafka_offset) })),
    })),
  };
}

/** After a cut: the sync rows below it are of records that are gone. */
export async function forgetSyncsBelow(m: EntityManager, partition: number, offset: number): Promise<void> {
  await m.query(`DELETE FROM plog_sync WHERE partition = $1 AND kafka_offset < $2`, [partition, offset]);
}
