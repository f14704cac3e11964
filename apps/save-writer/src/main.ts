/** save-writer alone (see the README): KAFKA_BROKERS, DELTAFLOW_DATA_DIR, DELTAFLOW_GROUP_ID, SAVE_WRITER_MAX_BYTES_PER_SEC. */
import { bytesFromEnv, serviceMain } from '@deltaflow/service-kit';
import { startSaveWriter } from './app';

serviceMain('save-writer', async (c) => {
  const svc = await startSaveWriter({ brokers: c.kafkaBrokers, dataDir: c.dataDir, groupId: c.groupId, httpPort: c.httpPort, maxBytesPerSec: bytesFromEnv('SAVE_WRITER_MAX_BYTES_PER_SEC') });
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `data sets in ${c.dataDir}/datasets` };
});
