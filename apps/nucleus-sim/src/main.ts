/**
 * nucleus-sim alone: KAFKA_BROKERS, DELTAFLOW_DATA_DIR (database N lives in
 * <DELTAFLOW_DATA_DIR>/nucleus-sim/db<N>), NUCLEUS_DBID (first database id, default 1),
 * NUCLEUS_DATABASES (how many databases, ids NUCLEUS_DBID.., default 1), NUCLEUS_DB_MIB (size of a
 * new database's DATA area, default the 3 MiB sample), NUCLEUS_TXN_INTERVAL_MS (default 50),
 * NUCLEUS_SYNC_INTERVAL_MS (default 5000).
 */
import * as path from 'node:path';
import { sampleGeometryOfSize } from '@deltaflow/blocks';
import { ServiceKitError, serveHttp, serviceMain } from '@deltaflow/service-kit';
import { startNucleusSim, type NucleusSim } from './app';

function num(name: string, dflt: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ServiceKitError('CONFIG', `${name}: expected an integer >= ${min}, got "${raw}"`);
  return n;
}

serviceMain('nucleus-sim', async (c) => {
  const first = num('NUCLEUS_DBID', 1, 1);
  const count = num('NUCLEUS_DATABASES', 1, 1);
  const mib = num('NUCLEUS_DB_MIB', 0);
  const sims: NucleusSim[] = [];
  for (let dbid = first; dbid < first + count; dbid++) {
    sims.push(
      await startNucleusSim({
        brokers: c.kafkaBrokers,
        dbid,
        dataDir: path.join(c.dataDir, 'nucleus-sim', `db${dbid}`),
        ...(mib > 0 ? { geometry: sampleGeometryOfSize(mib) } : {}),
        workload: { txnIntervalMs: num('NUCLEUS_TXN_INTERVAL_MS', 50) },
        syncIntervalMs: num('NUCLEUS_SYNC_INTERVAL_MS', 5000),
        seed: dbid,
        log: (m) => console.log(m),
      }),
    );
  }
  // /health and /metrics (NUCLEUS_SIM_HTTP_PORT or HTTP_PORT): the service kit's, in a Nest application of their own
  const checks = sims.map((s) => ({ name: `kafka-db${s.dbid}`, check: () => s.unready() }));
  const http = c.httpPort === undefined ? undefined : await serveHttp({ service: 'nucleus-sim', httpPort: c.httpPort, checks });
  return {
    httpUrl: http?.httpUrl,
    stop: async () => {
      await http?.stop();
      await Promise.all(sims.map((s) => s.stop()));
    },
    describe: sims.map((s) => `dbid ${s.dbid} at ${s.databaseDir}`).join(', '),
  };
});
