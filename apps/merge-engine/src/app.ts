/**
 * The merge engine service, startable in-process (tests, benchmarks) or from main.ts: merges,
 * restores (into `<dataDir>/restores/<target>`, or the database itself), shadows
 * (`<dataDir>/shadows/<name>`), REGENERATE and file unloads (`<dataDir>/unloads/<name>`), commanded on
 * dsf.commands and reported on dsf.events. See README.md.
 */
import { contractCodec, runService, type ServiceHttpOptions } from '@deltaflow/service-kit';
import { MergeEngineModule } from './merge-engine.module';
import type { MergeEngineConfig } from './merge-engine.service';

export type { MergeEngineConfig } from './merge-engine.service';

export interface RunningMergeEngine {
  /** /health and /metrics (with httpPort) */
  readonly httpUrl?: string;
  stop(): Promise<void>;
}

export async function startMergeEngine(config: MergeEngineConfig & ServiceHttpOptions): Promise<RunningMergeEngine> {
  const groupId = config.groupId ?? 'deltaflow.merge-engine';
  const svc = await runService({
    name: 'merge-engine',
    module: MergeEngineModule.register(config),
    http: config,
    kafka: { brokers: config.brokers, clientId: config.clientId ?? 'merge-engine', groupId, ...contractCodec(groupId) },
  });
  return { httpUrl: svc.httpUrl, stop: svc.stop };
}
