/** dsim-builder alone (see the README): KAFKA_BROKERS, DATABASE_URL, DELTAFLOW_DATA_DIR, DELTAFLOW_GROUP_ID. */
import { requireDatabaseUrl, serviceMain } from '@deltaflow/service-kit';
import { startDsimBuilder } from './app';

serviceMain('dsim-builder', async (c) => {
  const svc = await startDsimBuilder({ brokers: c.kafkaBrokers, databaseUrl: requireDatabaseUrl(c), dataDir: c.dataDir, groupId: c.groupId, httpPort: c.httpPort });
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `data sets in ${c.dataDir}/datasets` };
});
