/**
 * The catalog service, startable in-process (tests, launcher) or from main.ts: consumes
 * dsf.events and sov.events into its PostgreSQL read models (offsets checkpointed in the row
 * transactions), answers queries over HTTP and runs SOVADM's operations.
 */
import { contractCodec, dataSourceCheck, runService, type ServiceHttpOptions } from '@deltaflow/service-kit';
import { CATALOG_DB } from './catalog.controller';
import { CatalogModule, type CatalogDatabaseConfig } from './catalog.module';

export interface CatalogConfig extends CatalogDatabaseConfig, ServiceHttpOptions {
  readonly brokers: readonly string[];
  /** 0 = any free port */
  readonly httpPort: number;
  readonly groupId?: string;
  readonly clientId?: string;
  /** partitions applied at once (default 1; an experiment knob for the bench: CATALOG_BENCH_CONCURRENCY) */
  readonly partitionsConcurrently?: number;
}

export interface RunningCatalog {
  readonly httpUrl: string;
  stop(): Promise<void>;
}

/** Starts the catalog: migrations, then the consumer and the HTTP API. */
export async function startCatalog(config: CatalogConfig): Promise<RunningCatalog> {
  const groupId = config.groupId ?? 'deltaflow.catalog';
  const svc = await runService({
    name: 'catalog',
    module: CatalogModule.register(config),
    http: config,
    readiness: [(app) => dataSourceCheck(app.get(CATALOG_DB))],
    // partitions apply in parallel (each in its own transaction, its batches in order): PostgreSQL works on one while Node prepares the next
    kafka: {
      brokers: config.brokers,
      clientId: config.clientId ?? 'catalog',
      groupId,
      fromBeginning: true,
      ...contractCodec(groupId),
      ...(config.partitionsConcurrently ? { partitionsConsumedConcurrently: config.partitionsConcurrently } : {}),
    },
  });
  return { httpUrl: svc.httpUrl!, stop: svc.stop };
}
