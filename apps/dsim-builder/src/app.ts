/**
 * The DSIM builder service, startable in-process (tests, launcher) or from main.ts.
 * Consumes dsf.plog, dsf.events and dsf.commands; keeps the PLOG copy and the DSIM decider's
 * state in PostgreSQL (its own migrations, offsets in the same transactions); writes unloaded
 * DSIMs to `<dataDir>/datasets/<name>`, headed by the geometry of the database's containers.
 */
import { contractCodec, runService } from '@deltaflow/service-kit';
import { DsimBuilderModule } from './dsim-builder.module';
import type { DsimBuilderConfig } from './dsim-builder.service';

export type { DsimBuilderConfig } from './dsim-builder.service';

export interface RunningDsimBuilder {
  stop(): Promise<void>;
}

export async function startDsimBuilder(config: DsimBuilderConfig): Promise<RunningDsimBuilder> {
  const groupId = config.groupId ?? 'deltaflow.dsim-builder';
  const svc = await runService({
    name: 'dsim-builder',
    module: DsimBuilderModule.register(config),
    kafka: { brokers: config.brokers, clientId: 'dsim-builder', groupId, ...contractCodec(groupId) },
  });
  return { stop: svc.stop };
}
