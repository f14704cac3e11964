/**
 * dsim-builder alone (see the README): KAFKA_BROKERS, DATABASE_URL, DELTAFLOW_DATA_DIR, DELTAFLOW_GROUP_ID;
 * DSIM_BUILDER_PLOG_KEEP_SAVES (default 2; 0 keeps dsf.plog whole): the PLOG retention.
 */
import { intFromEnv, requireDatabaseUrl, serviceMain } from '@deltaflow/service-kit';
import { startDsimBuilder } from './app';

serviceMain('dsim-builder', async (c) => {
  const plogKeepSaves = intFromEnv('DSIM_BUILDER_PLOG_KEEP_SAVES', 2, 0, 1000);
  const plogRetentionIntervalMs = intFromEnv('DSIM_BUILDER_PLOG_RETENTION_INTERVAL_MS', 60_000, 1000, 86_400_000);
  const svc = await startDsimBuilder({ brokers: c.kafkaBrokers, databaseUrl: requireDatabaseUrl(c), dataDir: c.dataDir, groupId: c.groupId, httpPort: c.httpPort, plogKeepSaves, plogRetentionIntervalMs });
  const kept = plogKeepSaves > 0 ? `dsf.plog kept since the last ${plogKeepSaves} saves per database` : 'dsf.plog kept whole';
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `data sets in ${c.dataDir}/datasets; ${kept}` };
});
