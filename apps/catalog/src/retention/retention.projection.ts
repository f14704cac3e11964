/**
 * The data set retention policy of each database: the last RetentionSet (a policy with neither
 * count nor age is the configured default again: the row goes). Replayed in order, the last one
 * wins, so a redelivered event changes nothing.
 */
import type { CatalogEvent, Projection, Queryable } from '../projection';

export const retentionProjection: Projection = {
  name: 'catalog.retention',
  tables: [{ name: 'catalog_retention', key: 'dbid' }],
  canHandle: (e) => e.type === 'RetentionSet',
  apply: applyRetentionEvent,
};

async function applyRetentionEvent(m: Queryable, e: CatalogEvent): Promise<void> {
  if (e.type !== 'RetentionSet') return;
  if (e.keepSaves === undefined && e.keepDays === undefined) {
    await m.query('DELETE FROM catalog_retention WHERE dbid = $1', [e.dbid]);
    return;
  }
  await m.query(
    `INSERT INTO catalog_retention (dbid, keep_saves, keep_days, correlation_id, set_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (dbid) DO UPDATE SET keep_saves = $2, keep_days = $3, correlation_id = $4, set_at = $5`,
    [e.dbid, e.keepSaves ?? null, e.keepDays ?? null, e.correlationId, e.occurredAt],
  );
}
