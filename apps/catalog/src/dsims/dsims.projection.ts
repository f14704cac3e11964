/**
 * DSIMs read model: one row per online save's DSIM (by the save's DSID), acquired →
 * completed → unloaded, or reset. Status only moves forward, so redelivery changes nothing.
 */
import { formatDsid } from '@deltaflow/dsid';
import type { EntityManager } from 'typeorm';
import { locationPath, type ApplyContext, type CatalogEvent, type Projection, type Queryable } from '../projection';
import { foldsOf, RowFold, startFolds, type FoldTable } from '../row-fold';
import type { DsimStatus, DsimView } from '@deltaflow/catalog-api';

export type { DsimStatus, DsimView };

export const DSIM_STATUSES = ['acquired', 'completed', 'unloaded', 'reset'] as const satisfies readonly DsimStatus[];

export const dsimsProjection: Projection = {
  name: 'catalog.dsims',
  tables: [{ name: 'catalog_dsim', key: 'dbid, dsid' }],
  canHandle: (e) => e.type === 'DsimAcquired' || e.type === 'DsimCompleted' || e.type === 'DsimUnloaded' || e.type === 'DsimReset',
  apply: applyDsimEvent,
  prepare: async (m, events, ctx) => {
    const [dsims] = startFolds(ctx, 'catalog.dsims', [new RowFold(DSIM_TABLE)]);
    const keys: Array<[number, string]> = [];
    const everyDsim = new Set<number>();
    for (const e of events) {
      if (e.type === 'DsimReset' && !e.dsid) everyDsim.add(e.dbid);
      else if (e.type === 'DsimAcquired' || e.type === 'DsimCompleted' || e.type === 'DsimUnloaded' || e.type === 'DsimReset') keys.push([e.dbid, formatDsid(e.dsid!)]);
    }
    await dsims.load(m, keys);
    // a reset without a DSID touches every DSIM of its database: all of them are loaded
    if (everyDsim.size > 0) await dsims.loadWhere(m, 'dbid = ANY($1::int[])', [[...everyDsim]]);
  },
};

const DSIM_TABLE: FoldTable = {
  name: 'catalog_dsim',
  key: [
    ['dbid', 'int'],
    ['dsid', 'text'],
  ],
  columns: ['dbid', 'dsid', 'status', 'start_lsn', 'end_lsn', 'blocks', 'path', 'acquired_at', 'updated_at'],
};

/** In a batch: the statements below, on the rows in memory (row-fold.ts). */
function foldDsimEvent(dsims: RowFold, e: CatalogEvent): void {
  switch (e.type) {
    case 'DsimAcquired': {
      const dsid = formatDsid(e.dsid);
      if (dsims.get(dsims.key(e.dbid, dsid)) === null) dsims.put({ dbid: e.dbid, dsid, status: 'acquired', start_lsn: e.startLsn, acquired_at: e.occurredAt, updated_at: e.occurredAt });
      return;
    }
    case 'DsimCompleted': {
      const dsid = formatDsid(e.dsid);
      const row = dsims.get(dsims.key(e.dbid, dsid));
      if (row === null) dsims.put({ dbid: e.dbid, dsid, status: 'completed', start_lsn: e.startLsn, end_lsn: e.endLsn, blocks: e.blocks, acquired_at: e.occurredAt, updated_at: e.occurredAt });
      else if (row.status === 'acquired') dsims.put({ ...row, status: 'completed', end_lsn: e.endLsn, blocks: e.blocks, updated_at: e.occurredAt });
      return;
    }
    case 'DsimUnloaded': {
      const row = dsims.get(dsims.key(e.dbid, formatDsid(e.dsid)));
      if (row !== null && (row.status === 'acquired' || row.status === 'completed')) dsims.put({ ...row, status: 'unloaded', path: locationPath(e.location), blocks: e.blocks, updated_at: e.occurredAt });
      return;
    }
    case 'DsimReset': {
      const rows = e.dsid ? [dsims.get(dsims.key(e.dbid, formatDsid(e.dsid)))] : dsims.known().filter((r) => r.dbid === e.dbid);
      for (const row of rows) if (row !== null && row.status !== 'reset') dsims.put({ ...row, status: 'reset', updated_at: e.occurredAt });
      return;
    }
    default:
      return;
  }
}

// A status only moves forward: acquired < completed < unloaded < reset.
const BEFORE_COMPLETED = `status = 'acquired'`;
const BEFORE_UNLOADED = `status IN ('acquired', 'completed')`;
const BEFORE_RESET = `status <> 'reset'`;

async function applyDsimEvent(m: Queryable, e: CatalogEvent, ctx?: ApplyContext): Promise<void> {
  const folds = foldsOf(ctx, 'catalog.dsims');
  if (folds) return foldDsimEvent(folds[0], e);
  switch (e.type) {
    case 'DsimAcquired':
      await m.query(
        `INSERT INTO catalog_dsim (dbid, dsid, status, start_lsn, acquired_at, updated_at) VALUES ($1, $2, 'acquired', $3, $4, $4)
         ON CONFLICT (dbid, dsid) DO NOTHING`,
        [e.dbid, formatDsid(e.dsid), e.startLsn, e.occurredAt],
      );
      return;
    case 'DsimCompleted':
      await m.query(
        `INSERT INTO catalog_dsim (dbid, dsid, status, start_lsn, end_lsn, blocks, acquired_at, updated_at)
         VALUES ($1, $2, 'completed', $3, $4, $5, $6, $6)
         ON CONFLICT (dbid, dsid) DO UPDATE SET status = 'completed', end_lsn = EXCLUDED.end_lsn, blocks = EXCLUDED.blocks,
           updated_at = EXCLUDED.updated_at
         WHERE catalog_dsim.${BEFORE_COMPLETED}`,
        [e.dbid, formatDsid(e.dsid), e.startLsn, e.endLsn, e.blocks, e.occurredAt],
      );
      return;
    case 'DsimUnloaded':
      await m.query(
        `UPDATE catalog_dsim SET status = 'unloaded', path = $3, blocks = $4, updated_at = $5
         WHERE dbid = $1 AND dsid = $2 AND ${BEFORE_UNLOADED}`,
        [e.dbid, formatDsid(e.dsid), locationPath(e.location), e.blocks, e.occurredAt],
      );
      return;
    case 'DsimReset':
      // Without a DSID: every DSIM of the database that is not reset yet.
      if (e.dsid) {
        await m.query(`UPDATE catalog_dsim SET status = 'reset', updated_at = $3 WHERE dbid = $1 AND dsid = $2 AND ${BEFORE_RESET}`, [
          e.dbid,
          formatDsid(e.dsid),
          e.occurredAt,
        ]);
      } else {
        await m.query(`UPDATE catalog_dsim SET status = 'reset', updated_at = $2 WHERE dbid = $1 AND ${BEFORE_RESET}`, [e.dbid, e.occurredAt]);
      }
      return;
    default:
      return;
  }
}

/** The DSIMs of one database, ordered by acquisition. */
export async function queryDsims(m: Pick<EntityManager, 'query'>, dbid: number): Promise<DsimView[]> {
  const rows: Array<Record<string, string | number | null>> = await m.query(
    'SELECT * FROM catalog_dsim WHERE dbid = $1 ORDER BY acquired_at, dsid',
    [dbid],
  );
  return rows.map((r) => {
    const v: DsimView = {
      dbid: Number(r.dbid),
      dsid: String(r.dsid),
      status: r.status as DsimStatus,
      startLsn: Number(r.start_lsn),
      acquiredAt: Number(r.acquired_at),
      updatedAt: Number(r.updated_at),
    };
    if (r.end_lsn !== null) v.endLsn = Number(r.end_lsn);
    if (r.blocks !== null) v.blocks = Number(r.blocks);
    if (r.path !== null) v.path = String(r.path);
    return v;
  });
}
