import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { CATALOG_DB, CatalogEventsController, CatalogQueryController, SovadmController } from './catalog.controller';
import { openCatalogDatabase } from './read-models';
import { AuditController } from './audit/audit.controller';
import { SchedulesController } from './schedules/schedules.controller';
import { SOVADM_CONFIG, SovadmService, type SovadmConfig } from './sovadm/sovadm.service';

export interface CatalogDatabaseConfig extends SovadmConfig {
  readonly databaseUrl: string;
  /** a schema of its own (default: the database's public schema) */
  readonly schema?: string;
}

/** The read models' database: opened (migrations run) before the transport consumes, closed after it stopped. */
@Module({})
export class CatalogModule implements OnApplicationShutdown {
  constructor(@Inject(CATALOG_DB) private readonly ds: DataSource) {}

  static register(config: CatalogDatabaseConfig): DynamicModule {
    return {
      module: CatalogModule,
      controllers: [CatalogEventsController, CatalogQueryController, SovadmController, AuditController, SchedulesController],
      providers: [
        { provide: CATALOG_DB, useFactory: () => openCatalogDatabase(config.databaseUrl, config.schema) },
        { provide: SOVADM_CONFIG, useValue: config },
        SovadmService,
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
