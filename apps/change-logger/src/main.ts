/**
 * change-logger alone (see README.md): KAFKA_BROKERS, CHANGE_LOGGER_DATABASES, DELTAFLOW_GROUP_ID,
 * CHANGE_LOGGER_RETENTION_INTERVAL_MS (default 30000; 0 keeps dsf.block-changes and dsf.dlog whole),
 * CHANGE_LOGGER_DLOG_SNAPSHOT_RECORDS (default 10000: dsf.dlog records between DLOG snapshots).
 */
import { intFromEnv, serviceMain } from '@deltaflow/service-kit';
import { databasesFromDirs, protectedDatabaseDirs, startChangeLogger } from './app';

serviceMain('change-logger', async (cfg) => {
  const dirs = protectedDatabaseDirs(cfg);
  const retentionIntervalMs = intFromEnv('CHANGE_LOGGER_RETENTION_INTERVAL_MS', 30_000, 0, 86_400_000);
  const dlogSnapshotEvery = intFromEnv('CHANGE_LOGGER_DLOG_SNAPSHOT_RECORDS', 10_000, 1, 100_000_000);
  const svc = await startChangeLogger({ brokers: cfg.kafkaBrokers, groupId: cfg.groupId, databases: databasesFromDirs(dirs), httpPort: cfg.httpPort, retentionIntervalMs, dlogSnapshotEvery, log: (m) => console.log(m) });
  const kept = retentionIntervalMs > 0 ? `dsf.block-changes truncated below what is logged and read, dsf.dlog below its snapshots (every ${dlogSnapshotEvery} records), every ${retentionIntervalMs} ms` : 'dsf.block-changes and dsf.dlog kept whole';
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `databases: ${dirs.join(', ')}; ${kept}` };
});
