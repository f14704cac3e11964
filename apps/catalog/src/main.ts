/**
 * The catalog alone: KAFKA_BROKERS, DATABASE_URL, CATALOG_HTTP_PORT (or HTTP_PORT; default 0 =
 * any free port), CATALOG_SCHEMA, DELTAFLOW_GROUP_ID, DELTAFLOW_DATA_DIR (catalog backups under
 * catalog-backups/), SOV_VOLUME_DIR (the volumes SCANSTREAMFILE reads; default <data dir>/tapes).
 */
import * as path from 'node:path';
import { requireDatabaseUrl, serviceMain } from '@deltaflow/service-kit';
import { startCatalog } from './app';

serviceMain('catalog', async (c) => {
  const catalog = await startCatalog({
    brokers: c.kafkaBrokers,
    databaseUrl: requireDatabaseUrl(c),
    httpPort: c.httpPort ?? 0,
    groupId: c.groupId,
    dataDir: c.dataDir,
    volumeDir: path.resolve(process.env.SOV_VOLUME_DIR || path.join(c.dataDir, 'tapes')),
    ...(process.env.CATALOG_SCHEMA ? { schema: process.env.CATALOG_SCHEMA } : {}),
  });
  return { stop: catalog.stop, httpUrl: catalog.httpUrl };
});
