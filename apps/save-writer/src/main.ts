/**
 * save-writer alone (see the README): KAFKA_BROKERS, DELTAFLOW_DATA_DIR, DELTAFLOW_GROUP_ID,
 * SAVE_WRITER_MAX_BYTES_PER_SEC, SAVE_WRITER_STREAM_TIMEOUT_MS (a save to a stream waits this long
 * for its client file to be closed; default 120000).
 */
import { bytesFromEnv, intFromEnv, serviceMain } from '@deltaflow/service-kit';
import { startSaveWriter } from './app';

serviceMain('save-writer', async (c) => {
  const svc = await startSaveWriter({
    brokers: c.kafkaBrokers,
    dataDir: c.dataDir,
    groupId: c.groupId,
    httpPort: c.httpPort,
    maxBytesPerSec: bytesFromEnv('SAVE_WRITER_MAX_BYTES_PER_SEC'),
    streamTimeoutMs: intFromEnv('SAVE_WRITER_STREAM_TIMEOUT_MS', 120_000, 1000, 86_400_000),
  });
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `data sets in ${c.dataDir}/datasets` };
});
