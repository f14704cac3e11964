/**
 * The catalog's read models as one unit: apply a dsf.events, dsf.dlog or sov.events record to every projection
 * that handles it (each with its own checkpoint, written in the row transaction), and the
 * state digest (sha256 over the ordered rows of every read model).
 */
import { createHash } from 'node:crypto';
import { applyOnce, CheckpointMigration, openDataSource, readCheckpoints, type Checkpoint } from '@deltaflow/persistence';
import type { DataSource, EntityManager } from 'typeorm';
import { applyRecords, type BatchApplied, type BatchHook, type CatalogRecord, type RecordAt } from './apply-batch';
import { dsimsProjection } from './dsims/dsims.projection';
import { lineagesProjection } from './lineages/lineages.projection';
import { dlogProjection } from './dlog/dlog.projection';
import { CatalogEventHash1700000000400, CatalogReadModels1700000000200, CatalogRestoresAndDlog1700000000201, CatalogSovReadModels1700000000300, CatalogSovVerifications1700000000402 } from './migrations';
import { restoresProjection } from './restores/restores.projection';
import type { CatalogEvent, Projection } from './projection';
import { savesProjection } from './saves/saves.projection';
import { CatalogRetention1700000000403 } from './retention/retention.migration';
import { retentionProjection } from './retention/retention.projection';
import { CatalogSchedules1700000000401 } from './schedules/schedules.migration';
import { schedulesProjection } from './schedules/schedules.projection';
import { clientFilesProjection } from './sov-client-files/client-files.projection';
import { streamsProjection } from './sov-streams/streams.projection';
import { verificationsProjection } from './sov-verifications/verifications.projection';
import { volumesProjection } from './sov-volumes/volumes.projection';

/** In the order a record is applied: streams before volumes (a volume's capacity is its stream's). */
export const PROJECTIONS: readonly Projection[] = [
  savesProjection,
  dsimsProjection,
  lineagesProjection,
  restoresProjection,
  dlogProjection,
  streamsProjection,
  volumesProjection,
  clientFilesProjection,
  schedulesProjection,
  verificationsProjection,
  retentionProjection,
];
export const CATALOG_MIGRATIONS = [CheckpointMigration, CatalogReadModels1700000000200, CatalogRestoresAndDlog1700000000201, CatalogSovReadModels1700000000300, CatalogEventHash1700000000400, CatalogSchedules1700000000401, CatalogSovVerifications1700000000402, CatalogRetention1700000000403];

/** Opens (and migrates) the catalog's database; `schema` isolates a rebuild. */
export function openCatalogDatabase(url: string, schema?: string): Promise<DataSource> {
  return openDataSource({ url, entities: [], migrations: CATALOG_MIGRATIONS, ...(schema ? { schema } : {}) });
}

export type { RecordAt, CatalogRecord } from './apply-batch';

/**
 * Applies the records of one topic partition (a fetched batch, ascending offsets) to every read
 * model in one transaction, checkpoints included: what the live catalog and the replay do.
 */
export function applyCatalogRecords(ds: DataSource, records: readonly CatalogRecord[], hook?: BatchHook): Promise<BatchApplied> {
  return applyRecords(ds, PROJECTIONS, records, hook);
}

/** Applies one record to every read model, once per projection. */
export async function applyRecord(ds: DataSource, event: CatalogEvent, at: RecordAt): Promise<Array<{ projection: string; outcome: 'applied' | 'duplicate' }>> {
  const out: Array<{ projection: string; outcome: 'applied' | 'duplicate' }> = [];
  for (const p of PROJECTIONS) {
    if (!p.canHandle(event)) continue;
    const outcome = await applyOnce(ds, { projection: p.name, ...at }, (m) => p.apply(m, event));
    out.push({ projection: p.name, outcome });
  }
  return out;
}

/** Applies events straight to the rows (no checkpoints): the pure fold, for tests. */
export async function applyEvents(m: EntityManager, projection: Projection, events: readonly CatalogEvent[]): Promise<void> {
  for (const e of events) if (projection.canHandle(e)) await projection.apply(m, e);
}

/** sha256 over every read model's rows in primary-key order (columns in table order). */
export async function stateDigest(ds: Pick<DataSource, 'query'>): Promise<{ digest: string; rows: Record<string, number> }> {
  const hash = createHash('sha256');
  const rows: Record<string, number> = {};
  for (const p of PROJECTIONS) {
    for (const table of p.tables) {
      const result: Array<{ j: string }> = await ds.query(`SELECT row_to_json(t)::text AS j FROM ${table.name} t ORDER BY ${table.key}`);
      hash.update(`${table.name}\n`);
      for (const r of result) hash.update(`${r.j}\n`);
      rows[table.name] = result.length;
    }
  }
  return { digest: hash.digest('hex'), rows };
}

/** Where each projection stands. */
export async function catalogPosition(ds: DataSource | EntityManager): Promise<Record<string, Checkpoint[]>> {
  const pos: Record<string, Checkpoint[]> = {};
  for (const p of PROJECTIONS) pos[p.name] = await readCheckpoints(ds, p.name);
  return pos;
}
