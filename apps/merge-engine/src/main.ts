/** merge-engine alone (see README.md): KAFKA_BROKERS, DELTAFLOW_DATA_DIR, DELTAFLOW_GROUP_ID. */
import { serviceMain } from '@deltaflow/service-kit';
import { startMergeEngine } from './app';

serviceMain('merge-engine', async (c) => {
  const svc = await startMergeEngine({ brokers: c.kafkaBrokers, dataDir: c.dataDir, groupId: c.groupId, httpPort: c.httpPort });
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `data sets in ${c.dataDir}/datasets, restores in ${c.dataDir}/restores` };
});
