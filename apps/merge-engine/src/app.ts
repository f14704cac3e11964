/**
 * The merge engine service, startable in-process (tests, benchmarks) or from main.ts: merges,
 * restores (into `<dataDir>/restores/<target>`, or the database itself), shadows
 * (`<dataDir>/shadows/<name>`), REGENERATE and file unloads (`<dataDir>/unloads/<name>`), commanded on
 * dsf.commands and reported on dsf.events. See README.md.
 */
import { contractCodec, runService } from '@deltaflow/service-kit';
import { MergeEngineModule } from './merge-engine.module';
import type { MergeEngineConfig } from './merge-engine.service';

export type { MergeEngineConfig } from './merge-engine.service';

export interface RunningMergeEngine {
  stop(): Promise<void>;
}

export async function startMergeEngine(config: MergeEngineConfig): Promise<RunningMergeEngine> {
  const groupId = config.groupId ?? 'deltaflow.merge-engine';
  const svc = await runService({
    name: 'merge-engine',
    module: MergeEngineModule.register(config),
    kafka: { brokers: config.brokers, clientId: config.clientId ?? 'merge-engine', groupId, ...contractCodec(groupId) },
  });
  return { stop: svc.stop };
}
