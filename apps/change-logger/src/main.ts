/**
 * change-logger alone (see README.md): KAFKA_BROKERS, CHANGE_LOGGER_DATABASES, DELTAFLOW_GROUP_ID,
 * CHANGE_LOGGER_RETENTION_INTERVAL_MS (default 30000; 0 keeps dsf.block-changes whole).
 */
import { intFromEnv, serviceMain } from '@deltaflow/service-kit';
import { databasesFromDirs, protectedDatabaseDirs, startChangeLogger } from './app';

serviceMain('change-logger', async (cfg) => {
  const dirs = protectedDatabaseDirs(cfg);
  const retentionIntervalMs = intFromEnv('CHANGE_LOGGER_RETENTION_INTERVAL_MS', 30_000, 0, 86_400_000);
  const svc = await startChangeLogger({ brokers: cfg.kafkaBrokers, groupId: cfg.groupId, databases: databasesFromDirs(dirs), httpPort: cfg.httpPort, retentionIntervalMs, log: (m) => console.log(m) });
  const kept = retentionIntervalMs > 0 ? `dsf.block-changes truncated below what is logged and read, every ${retentionIntervalMs} ms` : 'dsf.block-changes kept whole';
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `databases: ${dirs.join(', ')}; ${kept}` };
});
