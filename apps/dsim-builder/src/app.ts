/**
 * The DSIM builder service, startable in-process (tests, launcher) or from main.ts.
 * Consumes dsf.plog, dsf.events and dsf.commands; keeps PLOG images and DSIM state in
 * PostgreSQL (its own migrations, offsets checkpointed in the same transactions); writes
 * unloaded DSIMs to `<dataDir>/datasets/<name>`, with the geometry of the database in
 * `<dataDir>/databases/<dbid>` (or `databaseDir`).
 */
import { Module } from '@nestjs/common';
import { encodeMessage, type AnyMessage } from '@deltaflow/contracts';
import { contractCodec, EventPublisher, runService } from '@deltaflow/service-kit';
import { DsimBuilder } from './dsim-builder';
import { DSIM_BUILDER, DsimBuilderController } from './dsim-builder.controller';
import { openDsimDataSource } from './dsim-store';

export interface DsimBuilderConfig {
  readonly brokers: string[];
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly groupId?: string;
  readonly databaseDir?: (dbid: number) => string;
  readonly fsync?: boolean;
  readonly log?: (m: string) => void;
}

export interface RunningDsimBuilder {
  stop(): Promise<void>;
}

export async function startDsimBuilder(config: DsimBuilderConfig): Promise<RunningDsimBuilder> {
  const log = config.log ?? ((m: string) => console.log(`[dsim-builder] ${m}`));
  const groupId = config.groupId ?? 'deltaflow.dsim-builder';
  const ds = await openDsimDataSource(config.databaseUrl);
  const publisher = new EventPublisher<AnyMessage>(config.brokers, 'dsim-builder', (m) => encodeMessage(m));
  await publisher.connect();
  const builder = new DsimBuilder({
    ds,
    dataDir: config.dataDir,
    databaseDir: config.databaseDir,
    publish: (...ms) => publisher.publish(...ms),
    now: () => Date.now(),
    log,
    fsync: config.fsync,
  });

  @Module({ controllers: [DsimBuilderController], providers: [{ provide: DSIM_BUILDER, useValue: builder }] })
  class DsimBuilderModule {}

  try {
    const svc = await runService({
      name: 'dsim-builder',
      module: DsimBuilderModule,
      kafka: {
        brokers: config.brokers,
        clientId: 'dsim-builder',
        groupId,
        ...contractCodec(groupId),
      },
    });
    return {
      stop: async () => {
        await svc.stop();
        await publisher.close();
        await ds.destroy();
      },
    };
  } catch (err) {
    await publisher.close();
    await ds.destroy();
    throw err;
  }
}
