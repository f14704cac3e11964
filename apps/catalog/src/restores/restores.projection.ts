/**
 * Restores read model: one row per restore delta, shadow init or apply (`kind` restore | shadow)
 * and REGENERATE (`regenerate`), keyed by the command's correlation id: started → completed |
 * interrupted. A completed row never changes again, so redeliveries change nothing.
 */
import { formatDsid } from '@deltaflow/dsid';
import type { EntityManager } from 'typeorm';
import type { CatalogEvent, Projection, Queryable } from '../projection';
import type { RestoreView } from '@deltaflow/catalog-api';

export type { RestoreView };

export const restoresProjection: Projection = {
  name: 'catalog.restores',
  tables: [{ name: 'catalog_restore', key: 'dbid, correlation_id' }],
  canHandle: (e) => e.type === 'RestoreStarted' || e.type === 'RestoreCompleted' || e.type === 'RestoreInterrupted' || e.type === 'ShadowRegenerated',
  apply: applyRestoreEvent,
};

async function applyRestoreEvent(m: Queryable, e: CatalogEvent): Promise<void> {
  switch (e.type) {
    case 'RestoreStarted':
      await m.query(
        `INSERT INTO catalog_restore (dbid, correlation_id, target, kind, status, inputs, started_at) VALUES ($1, $2, $3, $4, 'started', $5, $6)
         ON CONFLICT (dbid, correlation_id) DO NOTHING`,
        [e.dbid, e.correlationId, e.target, e.shadow ? 'shadow' : 'restore', JSON.stringify(e.inputs), e.occurredAt],
      );
      return;
    case 'RestoreCompleted':
      await m.query(
        `INSERT INTO catalog_restore (dbid, correlation_id, target, kind, status, dsid, lineage, into_database, blocks, digest, started_at, completed_at)
         VALUES ($1, $2, $3, $4, 'completed', $5, $6, $7, $8, $9, $10, $10)
         ON CONFLICT (dbid, correlation_id) DO UPDATE SET status = 'completed', dsid = EXCLUDED.dsid, lineage = EXCLUDED.lineage,
           into_database = EXCLUDED.into_database, blocks = EXCLUDED.blocks, digest = EXCLUDED.digest, completed_at = EXCLUDED.completed_at, reason = NULL
         WHERE catalog_restore.status <> 'completed'`,
        [e.dbid, e.correlationId, e.target, e.shadow ? 'shadow' : 'restore', formatDsid(e.dsid), e.dsid.lineage, !!e.intoDatabase, e.blocks, e.digest ?? null, e.occurredAt],
      );
      return;
    case 'RestoreInterrupted':
      await m.query(
        `INSERT INTO catalog_restore (dbid, correlation_id, target, kind, status, reason, started_at, completed_at) VALUES ($1, $2, $3, 'restore', 'interrupted', $4, $5, $5)
         ON CONFLICT (dbid, correlation_id) DO UPDATE SET status = 'interrupted', reason = EXCLUDED.reason, completed_at = EXCLUDED.completed_at
         WHERE catalog_restore.status = 'started'`,
        [e.dbid, e.correlationId, e.target, `${e.code}: ${e.reason}`, e.occurredAt],
      );
      return;
    case 'ShadowRegenerated':
      await m.query(
        `INSERT INTO catalog_restore (dbid, correlation_id, target, kind, status, blocks, digest, from_lsn, to_lsn, started_at, completed_at)
         VALUES ($1, $2, $3, 'regenerate', 'completed', $4, $5, $6, $7, $8, $8) ON CONFLICT (dbid, correlation_id) DO NOTHING`,
        [e.dbid, e.correlationId, e.shadow, e.blocks, e.digest, e.fromLsn, e.toLsn, e.occurredAt],
      );
      return;
    default:
      return;
  }
}

/** The restores of one database, in order. */
export async function queryRestores(m: Pick<EntityManager, 'query'>, dbid: number): Promise<RestoreView[]> {
  const rows: Array<Record<string, any>> = await m.query('SELECT * FROM catalog_restore WHERE dbid = $1 ORDER BY started_at, correlation_id', [dbid]);
  return rows.map((r) => {
    const v: RestoreView = { correlationId: r.correlation_id, target: r.target, kind: r.kind, status: r.status, intoDatabase: r.into_database, startedAt: Number(r.started_at) };
    if (r.inputs !== null) v.inputs = r.inputs;
    if (r.dsid !== null) v.dsid = r.dsid;
    if (r.blocks !== null) v.blocks = Number(r.blocks);
    if (r.digest !== null) v.digest = r.digest;
    if (r.from_lsn !== null) v.fromLsn = Number(r.from_lsn);
    if (r.to_lsn !== null) v.toLsn = Number(r.to_lsn);
    if (r.reason !== null) v.reason = r.reason;
    if (r.completed_at !== null) v.completedAt = Number(r.completed_at);
    return v;
  });
}
