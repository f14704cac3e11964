/**
 * The catalog alone: KAFKA_BROKERS, DATABASE_URL, CATALOG_HTTP_PORT (or HTTP_PORT; default 0 =
 * any free port), CATALOG_SCHEMA, DELTAFLOW_GROUP_ID, DELTAFLOW_DATA_DIR (catalog backups under
 * catalog-backups/), SOV_VOLUME_DIR (the volumes SCANSTREAMFILE reads; default <data dir>/tapes),
 * DSF_RETENTION_KEEP_SAVES / DSF_RETENTION_KEEP_DAYS (the data set retention of a database without
 * one set; unset: keep everything), DSF_EXPIRE_INTERVAL_MS (the retention pass on its own; 0: only
 * when `dsf expire` asks).
 */
import * as path from 'node:path';
import { intFromEnv, requireDatabaseUrl, serviceMain } from '@deltaflow/service-kit';
import { startCatalog } from './app';

serviceMain('catalog', async (c) => {
  const keepSaves = intFromEnv('DSF_RETENTION_KEEP_SAVES', 0, 0, 1_000_000);
  const keepDays = intFromEnv('DSF_RETENTION_KEEP_DAYS', 0, 0, 1_000_000);
  const catalog = await startCatalog({
    brokers: c.kafkaBrokers,
    databaseUrl: requireDatabaseUrl(c),
    httpPort: c.httpPort ?? 0,
    groupId: c.groupId,
    dataDir: c.dataDir,
    volumeDir: path.resolve(process.env.SOV_VOLUME_DIR || path.join(c.dataDir, 'tapes')),
    ...(process.env.CATALOG_SCHEMA ? { schema: process.env.CATALOG_SCHEMA } : {}),
    retentionDefaults: { ...(keepSaves ? { keepSaves } : {}), ...(keepDays ? { keepDays } : {}) },
    expireIntervalMs: intFromEnv('DSF_EXPIRE_INTERVAL_MS', 0, 0, 86_400_000 * 30),
  });
  return { stop: catalog.stop, httpUrl: catalog.httpUrl };
});
