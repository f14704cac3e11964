/** Shared by the read models' tests: a migrated catalog database on the test PostgreSQL. */
import { testDatabase } from '@deltaflow/testing';
import type { DataSource } from 'typeorm';
import { applyEvents, openCatalogDatabase } from '../read-models';
import type { CatalogEvent, Projection } from '../projection';

export async function catalogTestDatabase(): Promise<{ ds: DataSource; url: string; close(): Promise<void> }> {
  const db = await testDatabase();
  const ds = await openCatalogDatabase(db.url);
  return {
    ds,
    url: db.url,
    close: async () => {
      await ds.destroy();
      await db.drop();
    },
  };
}

/** Every row of a projection's tables, in key order. */
export async function rowsOf(ds: DataSource, p: Projection): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const t of p.tables) out.push(...(await ds.query(`SELECT * FROM ${t.name} ORDER BY ${t.key}`)));
  return out;
}

/** Folds the events into the projection's rows inside one transaction. */
export function fold(ds: DataSource, p: Projection, events: readonly CatalogEvent[]): Promise<void> {
  return ds.transaction((m) => applyEvents(m, p, events));
}
