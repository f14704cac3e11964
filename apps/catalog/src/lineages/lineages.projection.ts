/**
 * Lineages read model: per database and lineage, its first and latest successful data set
 * (saves and merge outputs). "Latest" is guarded by (full#, delta#), so replaying or
 * redelivering an older event never moves it back.
 */
import { formatDsid } from '@deltaflow/dsid';
import type { EntityManager } from 'typeorm';
import type { ApplyContext, CatalogEvent, Projection, Queryable } from '../projection';
import { foldsOf, RowFold, rowLess, startFolds, type FoldTable } from '../row-fold';
import type { LineageView } from '@deltaflow/catalog-api';

export type { LineageView };

export const lineagesProjection: Projection = {
  name: 'catalog.lineages',
  tables: [{ name: 'catalog_lineage', key: 'dbid, lineage' }],
  canHandle: (e) => e.type === 'SaveCompleted' || e.type === 'MergeCompleted',
  apply: applyLineageEvent,
  prepare: async (m, events, ctx) => {
    const [lineages] = startFolds(ctx, 'catalog.lineages', [new RowFold(LINEAGE_TABLE)]);
    await lineages.load(m, events.flatMap((e) => (e.type === 'SaveCompleted' || e.type === 'MergeCompleted' ? [[e.dbid, e.dsid.lineage]] : [])));
  },
};

const LINEAGE_TABLE: FoldTable = {
  name: 'catalog_lineage',
  key: [
    ['dbid', 'int'],
    ['lineage', 'text'],
  ],
  columns: ['dbid', 'lineage', 'first_dsid', 'first_at', 'latest_dsid', 'latest_full', 'latest_delta', 'latest_at'],
};

async function applyLineageEvent(m: Queryable, e: CatalogEvent, ctx?: ApplyContext): Promise<void> {
  if (e.type !== 'SaveCompleted' && e.type !== 'MergeCompleted') return;
  const folds = foldsOf(ctx, 'catalog.lineages');
  if (folds) {
    // in a batch: the statement below on the row in memory (row-fold.ts)
    const [lineages] = folds;
    const row = lineages.get(lineages.key(e.dbid, e.dsid.lineage));
    const latest = { latest_dsid: formatDsid(e.dsid), latest_full: e.dsid.full, latest_delta: e.dsid.deltaTo, latest_at: e.occurredAt };
    if (row === null) lineages.put({ dbid: e.dbid, lineage: e.dsid.lineage, first_dsid: latest.latest_dsid, first_at: e.occurredAt, ...latest });
    else if (rowLess([row.latest_full, row.latest_delta], [latest.latest_full, latest.latest_delta])) lineages.put({ ...row, ...latest });
    return;
  }
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
