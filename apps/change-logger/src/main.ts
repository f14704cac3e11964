/** change-logger alone (see README.md): KAFKA_BROKERS, CHANGE_LOGGER_DATABASES, DELTAFLOW_GROUP_ID. */
import { serviceMain } from '@deltaflow/service-kit';
import { databasesFromDirs, protectedDatabaseDirs, startChangeLogger } from './app';

serviceMain('change-logger', async (cfg) => {
  const dirs = protectedDatabaseDirs(cfg);
  const svc = await startChangeLogger({ brokers: cfg.kafkaBrokers, groupId: cfg.groupId, databases: databasesFromDirs(dirs), httpPort: cfg.httpPort, log: (m) => console.log(m) });
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `databases: ${dirs.join(', ')}` };
});
