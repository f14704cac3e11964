/**
 * Lineages read model: per database and lineage, its first and latest successful data set
 * (saves and merge outputs). "Latest" is guarded by (full#, delta#), so replaying or
 * redelivering an older event never moves it back.
 */
import { formatDsid } from '@deltaflow/dsid';
import type { EntityManager } from 'typeorm';
import type { CatalogEvent, Projection, Queryable } from '../projection';
import type { LineageView } from '@deltaflow/catalog-api';

export type { LineageView };

export const lineagesProjection: Projection = {
  name: 'catalog.lineages',
  tables: [{ name: 'catalog_lineage', key: 'dbid, lineage' }],
  canHandle: (e) => e.type === 'SaveCompleted' || e.type === 'MergeCompleted',
  apply: applyLineageEvent,
};

async function applyLineageEvent(m: Queryable, e: CatalogEvent): Promise<void> {
  if (e.type !== 'SaveCompleted' && e.type !== 'MergeCompleted') return;
  const dsid = formatDsid(e.dsid);
  await m.query(
    `INSERT INTO catalog_lineage (dbid, lineage, first_dsid, first_at, latest_dsid, latest_full, latest_delta, latest_at)
     VALUES ($1, $2, $3, $4, $3, $5, $6, $4)
     ON CONFLICT (dbid, lineage) DO UPDATE SET latest_dsid = EXCLUDED.latest_dsid, latest_full = EXCLUDED.latest_full,
       latest_delta = EXCLUDED.latest_delta, latest_at = EXCLUDED.latest_at
     WHERE (catalog_lineage.latest_full, catalog_lineage.latest_delta) < (EXCLUDED.latest_full, EXCLUDED.latest_delta)`,
    [e.dbid, e.dsid.lineage, dsid, e.occurredAt, e.dsid.full, e.dsid.deltaTo],
  );
}

/** The lineages of one database, oldest first. */
export async function queryLineages(m: Pick<EntityManager, 'query'>, dbid: number): Promise<LineageView[]> {
  const rows: Array<Record<string, string | number>> = await m.query('SELECT * FROM catalog_lineage WHERE dbid = $1 ORDER BY first_at, lineage', [dbid]);
  return rows.map((r) => ({
    dbid: Number(r.dbid),
    lineage: String(r.lineage),
    firstDsid: String(r.first_dsid),
    firstAt: Number(r.first_at),
    latestDsid: String(r.latest_dsid),
    latestAt: Number(r.latest_at),
  }));
}
