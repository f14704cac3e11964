/**
 * stream-multiplexer alone (see the README, "Streaming backup"): KAFKA_BROKERS, DELTAFLOW_DATA_DIR,
 * SOV_VOLUME_DIR, SOV_* settings, DELTAFLOW_GROUP_ID, STREAM_MULTIPLEXER_HTTP_PORT or HTTP_PORT.
 */
import { serviceMain } from '@deltaflow/service-kit';
import { startStreamMultiplexer } from './app';
import { multiplexerConfigFromEnv } from './config';

serviceMain('stream-multiplexer', async (c) => {
  const config = multiplexerConfigFromEnv(c);
  const svc = await startStreamMultiplexer(config);
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `volumes in ${config.volumeDir}` };
});
