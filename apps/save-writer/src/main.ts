/** save-writer alone (see the README): KAFKA_BROKERS, DELTAFLOW_DATA_DIR, DELTAFLOW_GROUP_ID. */
import { serviceMain } from '@deltaflow/service-kit';
import { startSaveWriter } from './app';

serviceMain('save-writer', async (c) => {
  const svc = await startSaveWriter({ brokers: c.kafkaBrokers, dataDir: c.dataDir, groupId: c.groupId, httpPort: c.httpPort });
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `data sets in ${c.dataDir}/datasets` };
});
