/**
 * The DSIM builder's repository over PostgreSQL (TypeORM DataSource, raw SQL). Every change
 * runs in `applyOnce`, which skips an offset already applied and writes the next offset in
 * the same transaction as the rows.
 */
import type { Dsid } from '@deltaflow/dsid';
import type { DsimState } from '@deltaflow/save-chain';
import { DataSource, EntityManager } from 'typeorm';
import { DsimBuilder1700000000001 } from './migrations';

export interface DsimRow {
  readonly dbid: number;
  readonly state: DsimState;
  /** end sync LSN of the online save, once it completed (the DSIM completes when the PLOG reaches it) */
  readonly completingAt: number | null;
}

export async function openDsimDataSource(url: string): Promise<DataSource> {
  const ds = new DataSource({ type: 'postgres', url, entities: [], migrations: [DsimBuilder1700000000001], synchronize: false, logging: false });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  return ds;
}

/** Locks the checkpoint row of (topic, partition) and returns its next offset (0 if new). */
export async function lockCheckpoint(m: EntityManager, topic: string, partition: number): Promise<bigint> {
  await m.query(`INSERT INTO dsim_checkpoint (topic, partition, next_offset) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`, [topic, partition]);
  const [row] = await m.query(`SELECT next_offset FROM dsim_checkpoint WHERE topic = $1 AND partition = $2 FOR UPDATE`, [topic, partition]);
  return BigInt(row.next_offset);
}

export async function setCheckpoint(m: EntityManager, topic: string, partition: number, next: bigint): Promise<void> {
  await m.query(`UPDATE dsim_checkpoint SET next_offset = $3 WHERE topic = $1 AND partition = $2`, [topic, partition, next.toString()]);
}

/** Runs `fn` and records `offset + 1` as the next offset of (topic, partition), atomically; 'duplicate' if already applied. */
export async function applyOnce(
  ds: DataSource,
  at: { topic: string; partition: number; offset: string },
  fn: (m: EntityManager) => Promise<void>,
): Promise<'applied' | 'duplicate'> {
  return ds.transaction(async (m) => {
    if ((await lockCheckpoint(m, at.topic, at.partition)) > BigInt(at.offset)) return 'duplicate';
    await fn(m);
    await setCheckpoint(m, at.topic, at.partition, BigInt(at.offset) + 1n);
    return 'applied';
  });
}

export async function loadDsim(m: EntityManager, dbid: number): Promise<DsimRow> {
  const [r] = await m.query(`SELECT * FROM dsim WHERE dbid = $1 FOR UPDATE`, [dbid]);
  if (r === undefined || r.status === 'free') return { dbid, state: { status: 'free' }, completingAt: null };
  return {
    dbid,
    state: {
      status: r.status,
      correlationId: r.correlation_id,
      dsid: r.dsid as Dsid,
      startLsn: Number(r.start_lsn),
      endLsn: r.end_lsn === null ? null : Number(r.end_lsn),
      blocks: new Map(),
    },
    completingAt: r.completing_at === null ? null : Number(r.completing_at),
  };
}

export async function saveDsim(m: EntityManager, dbid: number, state: DsimState, completingAt: number | null): Promise<void> {
  if (state.status === 'free') {
    await m.query(
      `INSERT INTO dsim (dbid, status) VALUES ($1, 'free') ON CONFLICT (dbid) DO UPDATE SET status = 'free', correlation_id = NULL, dsid = NULL, start_lsn = NULL, end_lsn = NULL, completing_at = NULL`,
      [dbid],
    );
    return;
  }
  await m.query(
    `INSERT INTO dsim (dbid, status, correlation_id, dsid, start_lsn, end_lsn, completing_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (dbid) DO UPDATE SET status = $2, correlation_id = $3, dsid = $4, start_lsn = $5, end_lsn = $6, completing_at = $7`,
    [dbid, state.status, state.correlationId, JSON.stringify(state.dsid), state.startLsn, state.endLsn, completingAt],
  );
}

export async function plogSyncLsn(m: EntityManager, dbid: number): Promise<number | null> {
  const [r] = await m.query(`SELECT sync_lsn FROM plog_position WHERE dbid = $1`, [dbid]);
  return r === undefined ? null : Number(r.sync_lsn);
}

/** Number of distinct blocks changed in (from, to]. */
export async function countBlocks(m: EntityManager, dbid: number, from: number, to: number): Promise<number> {
  const [r] = await m.query(`SELECT count(*)::int AS n FROM (SELECT DISTINCT area, rabn FROM plog_image WHERE dbid = $1 AND lsn > $2 AND lsn <= $3) x`, [dbid, from, to]);
  return r.n;
}

/** The last image of every block changed in (from, to], in (area, RABN) order, page by page. */
export async function* lastImages(
  m: EntityManager,
  dbid: number,
  from: number,
  to: number,
  page = 512,
): AsyncGenerator<{ area: 'ASSO' | 'DATA'; rabn: number; lsn: number; image: Buffer }> {
  let after: [string, number] = ['', 0];
  for (;;) {
    const rows: Array<{ area: 'ASSO' | 'DATA'; rabn: number; lsn: string; image: Buffer }> = await m.query(
      `SELECT DISTINCT ON (area, rabn) area, rabn, lsn, image FROM plog_image
       WHERE dbid = $1 AND lsn > $2 AND lsn <= $3 AND (area, rabn) > ($4, $5)
       ORDER BY area, rabn, lsn DESC LIMIT $6`,
      [dbid, from, to, after[0], after[1], page],
    );
    for (const r of rows) yield { area: r.area, rabn: r.rabn, lsn: Number(r.lsn), image: r.image };
    if (rows.length < page) return;
    const last = rows[rows.length - 1];
    after = [last.area, last.rabn];
  }
}
