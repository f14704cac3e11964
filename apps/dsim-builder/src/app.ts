/**
 * The DSIM builder service, startable in-process (tests, launcher) or from main.ts.
 * Consumes dsf.plog, dsf.events and dsf.commands; keeps the PLOG copy and the DSIM decider's
 * state in PostgreSQL (its own migrations, offsets in the same transactions); writes unloaded
 * DSIMs to `<dataDir>/datasets/<name>`, headed by the geometry of the database's containers.
 */
import { contractCodec, postgresCheck, runService, type ServiceHttpOptions } from '@deltaflow/service-kit';
import { DsimBuilderModule } from './dsim-builder.module';
import type { DsimBuilderConfig } from './dsim-builder.service';

export type { DsimBuilderConfig } from './dsim-builder.service';

export interface RunningDsimBuilder {
  /** /health and /metrics (with httpPort) */
  readonly httpUrl?: string;
  stop(): Promise<void>;
}

export async function startDsimBuilder(config: DsimBuilderConfig & ServiceHttpOptions): Promise<RunningDsimBuilder> {
  const groupId = config.groupId ?? 'deltaflow.dsim-builder';
  const svc = await runService({
    name: 'dsim-builder',
    module: DsimBuilderModule.register(config),
    http: config,
    readiness: [postgresCheck(config.databaseUrl)],
    kafka: { brokers: config.brokers, clientId: 'dsim-builder', groupId, ...contractCodec(groupId) },
  });
  return { httpUrl: svc.httpUrl, stop: svc.stop };
}
