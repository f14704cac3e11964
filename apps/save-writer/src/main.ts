import { loadServiceConfig } from '@deltaflow/service-kit';
import { startSaveWriter } from './app';

async function main(): Promise<void> {
  const c = loadServiceConfig('save-writer');
  const svc = await startSaveWriter({ brokers: c.kafkaBrokers, dataDir: c.dataDir, groupId: c.groupId });
  console.log(`save-writer ready (data sets in ${c.dataDir}/datasets)`);
  process.send?.({ type: 'ready', service: 'save-writer' });
  const exit = () => void svc.stop().finally(() => process.exit(0));
  process.once('SIGINT', exit);
  process.once('SIGTERM', exit);
  if (process.send) process.once('disconnect', exit);
}

main().catch((err) => {
  console.error(`save-writer: ${err?.message ?? err}`);
  process.exit(1);
});
