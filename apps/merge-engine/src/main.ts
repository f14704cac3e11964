/** merge-engine alone (see README.md): KAFKA_BROKERS, DELTAFLOW_DATA_DIR, DELTAFLOW_GROUP_ID, MERGE_ENGINE_MAX_BYTES_PER_SEC. */
import { bytesFromEnv, serviceMain } from '@deltaflow/service-kit';
import { startMergeEngine } from './app';

serviceMain('merge-engine', async (c) => {
  const svc = await startMergeEngine({ brokers: c.kafkaBrokers, dataDir: c.dataDir, groupId: c.groupId, httpPort: c.httpPort, maxBytesPerSec: bytesFromEnv('MERGE_ENGINE_MAX_BYTES_PER_SEC') });
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `data sets in ${c.dataDir}/datasets, restores in ${c.dataDir}/restores` };
});
