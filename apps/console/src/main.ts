/**
 * The console alone: KAFKA_BROKERS, CATALOG_URL (required), CONSOLE_HTTP_PORT (or HTTP_PORT;
 * default 0 = any free port), HTTP_HOST (default 127.0.0.1), HTTP_TOKEN / HTTP_TOKEN_FILE (also
 * sent to the catalog and the services), CONSOLE_SERVICES (`name=url,...`: whose /metrics give
 * the consumer lag; the catalog always), CONSOLE_TAIL (records read back per partition at start).
 */
import { intFromEnv, serviceMain, ServiceKitError } from '@deltaflow/service-kit';
import { startConsole } from './app';
import { servicesFromEnv } from './console-data';

serviceMain('console', async (c) => {
  const catalogUrl = process.env.CATALOG_URL;
  if (!catalogUrl || !/^https?:\/\/\S+$/.test(catalogUrl)) throw new ServiceKitError('CONFIG', `CATALOG_URL: required, the catalog's base URL (http://host:port), got "${catalogUrl ?? ''}"`);
  let services: Map<string, string>;
  try {
    services = servicesFromEnv(process.env.CONSOLE_SERVICES, catalogUrl);
  } catch (e) {
    throw new ServiceKitError('CONFIG', (e as Error).message);
  }
  const running = await startConsole({
    brokers: c.kafkaBrokers,
    httpPort: c.httpPort ?? 0,
    catalogUrl: catalogUrl.replace(/\/+$/, ''),
    services,
    tail: intFromEnv('CONSOLE_TAIL', 200, 1, 100_000),
  });
  return { httpUrl: running.httpUrl, stop: running.stop, describe: `page bundled in ${running.bundleMs} ms; catalog ${catalogUrl}` };
});
