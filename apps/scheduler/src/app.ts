/**
 * The scheduler service, startable in-process (tests) or from main.ts: runs the sample schedules
 * (`dsf schedule define`) of the databases its group member owns. See README.md.
 */
import { contractCodec, runService, type ServiceHttpOptions } from '@deltaflow/service-kit';
import { SchedulerModule } from './scheduler.module';
import type { SchedulerConfig } from './scheduler.service';

export type { SchedulerConfig } from './scheduler.service';

export interface RunningScheduler {
  readonly httpUrl?: string;
  stop(): Promise<void>;
}

export async function startScheduler(config: SchedulerConfig & ServiceHttpOptions): Promise<RunningScheduler> {
  const groupId = config.groupId ?? 'deltaflow.scheduler';
  const svc = await runService({
    name: 'scheduler',
    module: SchedulerModule.register(config),
    http: config,
    kafka: { brokers: config.brokers, clientId: config.clientId ?? 'scheduler', groupId, ...contractCodec(groupId) },
  });
  return { httpUrl: svc.httpUrl, stop: svc.stop };
}
