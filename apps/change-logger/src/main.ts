/**
 * change-logger alone: KAFKA_BROKERS, CHANGE_LOGGER_DATABASES (comma-separated database
 * directories: the dbids it protects, with their geometry), DELTAFLOW_GROUP_ID (optional).
 * Default databases: <DELTAFLOW_DATA_DIR>/nucleus-sim/db1/db (the sample nucleus).
 */
import * as path from 'node:path';
import { loadServiceConfig } from '@deltaflow/service-kit';
import { startChangeLogger } from './app';
import { databasesFromDirs } from './databases';

async function main(): Promise<void> {
  const cfg = loadServiceConfig('change-logger');
  const dirs = (process.env.CHANGE_LOGGER_DATABASES || path.join(cfg.dataDir, 'nucleus-sim', 'db1', 'db'))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const svc = await startChangeLogger({ brokers: cfg.kafkaBrokers, groupId: cfg.groupId, databases: databasesFromDirs(dirs), log: (m) => console.log(m) });
  console.log(`change-logger ready (databases: ${dirs.join(', ')})`);
  process.send?.({ type: 'ready', service: 'change-logger' });
  const exit = async () => {
    await svc.stop().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void exit());
  process.once('SIGTERM', () => void exit());
  if (process.send) process.once('disconnect', () => void exit());
}

main().catch((e) => {
  console.error(`change-logger: ${(e as Error).message}`);
  process.exit(1);
});
