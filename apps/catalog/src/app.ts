/**
 * The catalog service, startable in-process (tests, launcher) or from main.ts: consumes
 * dsf.events into its PostgreSQL read models (offsets checkpointed in the row
 * transactions) and answers queries over HTTP.
 */
import { Module } from '@nestjs/common';
import { contractCodec, runService } from '@deltaflow/service-kit';
import { CATALOG_DB, CatalogEventsController, CatalogQueryController } from './catalog.controller';
import { openCatalogDatabase } from './read-models';

export interface CatalogConfig {
  readonly brokers: string[];
  readonly databaseUrl: string;
  /** 0 = any free port */
  readonly httpPort: number;
  /** a schema of its own (default: the database's public schema) */
  readonly schema?: string;
  readonly groupId?: string;
  readonly clientId?: string;
}

export interface RunningCatalog {
  readonly httpUrl: string;
  stop(): Promise<void>;
}

/** Starts the catalog: migrations, then the consumer and the HTTP API. */
export async function startCatalog(config: CatalogConfig): Promise<RunningCatalog> {
  const groupId = config.groupId ?? 'deltaflow.catalog';
  const ds = await openCatalogDatabase(config.databaseUrl, config.schema);

  @Module({ controllers: [CatalogEventsController, CatalogQueryController], providers: [{ provide: CATALOG_DB, useValue: ds }] })
  class CatalogModule {}

  try {
    const svc = await runService({
      name: 'catalog',
      module: CatalogModule,
      httpPort: config.httpPort,
      kafka: {
        brokers: config.brokers,
        clientId: config.clientId ?? 'catalog',
        groupId,
        fromBeginning: true,
        ...contractCodec(groupId),
      },
    });
    let stopping: Promise<void> | undefined;
    return {
      httpUrl: svc.httpUrl!,
      stop: () =>
        (stopping ??= (async () => {
          await svc.stop();
          if (ds.isInitialized) await ds.destroy();
        })()),
    };
  } catch (err) {
    await ds.destroy().catch(() => undefined);
    throw err;
  }
}
