/**
 * Runs the catalog from the environment:
 *   KAFKA_BROKERS=host:port[,host:port] DATABASE_URL=postgres://... CATALOG_HTTP_PORT=0 \
 *   node infra/launcher/bin/run-ts.js apps/catalog/src/main.ts
 */
import { startCatalog } from './app';

function env(name: string): string {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`${name} is required\n`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const portText = process.env.CATALOG_HTTP_PORT ?? '0';
  const httpPort = Number(portText);
  if (!/^[0-9]+$/.test(portText) || httpPort > 65535) {
    process.stderr.write(`CATALOG_HTTP_PORT: expected an integer in [0, 65535], got ${JSON.stringify(portText)}\n`);
    process.exit(2);
  }
  const catalog = await startCatalog({
    brokers: env('KAFKA_BROKERS').split(',').map((b) => b.trim()).filter(Boolean),
    databaseUrl: env('DATABASE_URL'),
    httpPort,
    ...(process.env.CATALOG_SCHEMA ? { schema: process.env.CATALOG_SCHEMA } : {}),
  });
  console.log(`catalog listening on ${catalog.httpUrl}`);
  process.send?.({ type: 'ready', service: 'catalog', httpUrl: catalog.httpUrl });
  const exit = (code: number) => {
    catalog.stop().then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => exit(0));
  process.once('SIGTERM', () => exit(0));
  if (process.send) process.once('disconnect', () => exit(0));
}

main().catch((err) => {
  process.stderr.write(`catalog: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
