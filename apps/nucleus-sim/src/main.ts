/**
 * nucleus-sim alone: KAFKA_BROKERS, DELTAFLOW_DATA_DIR (its database lives in
 * <DELTAFLOW_DATA_DIR>/nucleus-sim/db<dbid>), NUCLEUS_DBID (default 1),
 * NUCLEUS_TXN_INTERVAL_MS (default 50), NUCLEUS_SYNC_INTERVAL_MS (default 5000).
 */
import * as path from 'node:path';
import { ServiceKitError, serviceMain } from '@deltaflow/service-kit';
import { startNucleusSim } from './app';

function num(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ServiceKitError('CONFIG', `${name}: expected a non-negative integer, got "${raw}"`);
  return n;
}

serviceMain('nucleus-sim', async (c) => {
  const dbid = num('NUCLEUS_DBID', 1);
  const sim = await startNucleusSim({
    brokers: c.kafkaBrokers,
    dbid,
    dataDir: path.join(c.dataDir, 'nucleus-sim', `db${dbid}`),
    workload: { txnIntervalMs: num('NUCLEUS_TXN_INTERVAL_MS', 50) },
    syncIntervalMs: num('NUCLEUS_SYNC_INTERVAL_MS', 5000),
    log: (m) => console.log(m),
  });
  return { stop: sim.stop, describe: `dbid ${dbid}, database ${sim.databaseDir}` };
});
