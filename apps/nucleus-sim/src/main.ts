/**
 * nucleus-sim alone: KAFKA_BROKERS, DELTAFLOW_DATA_DIR (its database lives in
 * <DELTAFLOW_DATA_DIR>/nucleus-sim/db<dbid>), NUCLEUS_DBID (default 1),
 * NUCLEUS_TXN_INTERVAL_MS (default 50), NUCLEUS_SYNC_INTERVAL_MS (default 5000).
 */
import * as path from 'node:path';
import { startNucleusSim } from './app';

function num(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got "${raw}"`);
  return n;
}

async function main(): Promise<void> {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (brokers.length === 0) throw new Error('KAFKA_BROKERS: required, a comma-separated list of host:port');
  const dbid = num('NUCLEUS_DBID', 1);
  const root = path.resolve(process.env.DELTAFLOW_DATA_DIR || path.join(process.cwd(), '.deltaflow', 'data'));
  const sim = await startNucleusSim({
    brokers,
    dbid,
    dataDir: path.join(root, 'nucleus-sim', `db${dbid}`),
    workload: { txnIntervalMs: num('NUCLEUS_TXN_INTERVAL_MS', 50) },
    syncIntervalMs: num('NUCLEUS_SYNC_INTERVAL_MS', 5000),
    log: (m) => console.log(m),
  });
  console.log(`nucleus-sim ready (dbid ${dbid}, database ${sim.databaseDir})`);
  process.send?.({ type: 'ready', service: 'nucleus-sim' });
  const exit = async () => {
    await sim.stop().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void exit());
  process.once('SIGTERM', () => void exit());
  if (process.send) process.once('disconnect', () => void exit());
}

main().catch((e) => {
  console.error(`nucleus-sim: ${(e as Error).message}`);
  process.exit(1);
});
