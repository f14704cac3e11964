/**
 * merge-engine alone (see README.md): KAFKA_BROKERS, DELTAFLOW_DATA_DIR, DELTAFLOW_GROUP_ID,
 * MERGE_ENGINE_MAX_BYTES_PER_SEC; CATALOG_URL and SOV_VOLUME_DIR (default $DELTAFLOW_DATA_DIR/tapes)
 * for inputs on a stream (`stream:S/F`).
 */
import * as path from 'node:path';
import { bytesFromEnv, serviceMain } from '@deltaflow/service-kit';
import { startMergeEngine } from './app';

serviceMain('merge-engine', async (c) => {
  const catalogUrl = process.env.CATALOG_URL || undefined;
  const volumeDir = process.env.SOV_VOLUME_DIR || path.join(c.dataDir, 'tapes');
  const svc = await startMergeEngine({
    brokers: c.kafkaBrokers,
    dataDir: c.dataDir,
    groupId: c.groupId,
    httpPort: c.httpPort,
    maxBytesPerSec: bytesFromEnv('MERGE_ENGINE_MAX_BYTES_PER_SEC'),
    ...(catalogUrl ? { catalogUrl, volumeDir } : {}),
  });
  const streams = catalogUrl ? `stream inputs by ${catalogUrl} from ${volumeDir}` : 'no stream inputs (CATALOG_URL unset)';
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `data sets in ${c.dataDir}/datasets, restores in ${c.dataDir}/restores; ${streams}` };
});
