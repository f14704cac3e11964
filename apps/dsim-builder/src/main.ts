import { loadServiceConfig } from '@deltaflow/service-kit';
import { startDsimBuilder } from './app';

async function main(): Promise<void> {
  const c = loadServiceConfig('dsim-builder');
  if (!c.databaseUrl) throw new Error('DATABASE_URL: required (PostgreSQL URL)');
  const svc = await startDsimBuilder({ brokers: c.kafkaBrokers, databaseUrl: c.databaseUrl, dataDir: c.dataDir, groupId: c.groupId });
  console.log(`dsim-builder ready (data sets in ${c.dataDir}/datasets)`);
  process.send?.({ type: 'ready', service: 'dsim-builder' });
  const exit = () => void svc.stop().finally(() => process.exit(0));
  process.once('SIGINT', exit);
  process.once('SIGTERM', exit);
  if (process.send) process.once('disconnect', exit);
}

main().catch((err) => {
  console.error(`dsim-builder: ${err?.message ?? err}`);
  process.exit(1);
});
