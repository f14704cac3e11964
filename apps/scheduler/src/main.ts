/** scheduler alone (see README.md): KAFKA_BROKERS, DELTAFLOW_GROUP_ID, SCHEDULER_TICK_MS (default 1000). */
import { serviceMain } from '@deltaflow/service-kit';
import { startScheduler } from './app';

serviceMain('scheduler', async (c) => {
  const raw = process.env.SCHEDULER_TICK_MS;
  const tickMs = raw ? Number(raw) : undefined;
  if (tickMs !== undefined && (!Number.isInteger(tickMs) || tickMs < 50 || tickMs > 60_000)) throw new Error(`SCHEDULER_TICK_MS: expected a whole number of ms from 50 to 60000, got "${raw}"`);
  const svc = await startScheduler({ brokers: c.kafkaBrokers, groupId: c.groupId, httpPort: c.httpPort, ...(tickMs !== undefined ? { tickMs } : {}) });
  return { stop: svc.stop, httpUrl: svc.httpUrl, describe: `sample schedules on dsf.commands, checked every ${tickMs ?? 1000} ms` };
});
