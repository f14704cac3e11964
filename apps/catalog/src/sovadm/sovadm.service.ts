/**
 * SOVADM's operations for the HTTP API: expire (publishing ClientFileExpire on sov.commands),
 * catalog backup and restore (files under `<dataDir>/catalog-backups`), SCANSTREAMFILE (volumes
 * of `volumeDir`, read-only).
 */
import * as path from 'node:path';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { encodeMessage, type AnyMessage } from '@deltaflow/contracts';
import { safePathIn } from '@deltaflow/core';
import { EventPublisher } from '@deltaflow/service-kit';
import { FileDevice } from '@deltaflow/tape';
import type { DataSource } from 'typeorm';
import { CatalogError } from '../errors';
import { backupCatalog, expireClientFiles, restoreCatalog, scanStreamFileInto, type BackupResult, type ExpireResult, type RestoreResult, type StreamFileScanResult } from './sovadm';

export const CATALOG_DB = Symbol('CATALOG_DB');
export const SOVADM_CONFIG = Symbol('SOVADM_CONFIG');

export interface SovadmConfig {
  readonly databaseUrl: string;
  /** Kafka, for expiry commands (none: expire answers dry runs only) */
  readonly brokers?: readonly string[];
  /** backups go to `<dataDir>/catalog-backups/<name>.jsonl` */
  readonly dataDir?: string;
  /** the volume library SCANSTREAMFILE reads (SOV_VOLUME_DIR) */
  readonly volumeDir?: string;
}

@Injectable()
export class SovadmService implements OnApplicationShutdown {
  private publisher?: EventPublisher<AnyMessage>;

  constructor(
    @Inject(CATALOG_DB) private readonly ds: DataSource,
    @Inject(SOVADM_CONFIG) private readonly config: SovadmConfig,
  ) {}

  async expire(asOf: number, dryRun: boolean): Promise<ExpireResult> {
    if (!dryRun && !this.config.brokers?.length) throw new CatalogError('VALIDATION', 'expire: this catalog has no Kafka brokers to send expiry commands to (use dryRun)');
    return expireClientFiles(
      this.ds,
      async (commands) => {
        this.publisher ??= new EventPublisher<AnyMessage>(this.config.brokers!, 'catalog-sovadm', (m) => encodeMessage(m));
        await this.publisher.publish(...commands);
      },
      asOf,
      { dryRun },
    );
  }

  private backupFile(name: string): string {
    if (!this.config.dataDir) throw new CatalogError('VALIDATION', 'catalog backups need DELTAFLOW_DATA_DIR');
    try {
      return safePathIn(path.join(this.config.dataDir, 'catalog-backups'), `${name}.jsonl`, 'name');
    } catch (e) {
      throw new CatalogError('VALIDATION', (e as Error).message);
    }
  }

  backup(name: string): Promise<BackupResult> {
    return backupCatalog(this.ds, this.backupFile(name));
  }

  restore(name: string, schema: string): Promise<RestoreResult> {
    return restoreCatalog(this.config.databaseUrl, schema, this.backupFile(name));
  }

  async scan(schema: string, opts: { volsers?: string[]; mode?: 'auto' | 'full' }): Promise<StreamFileScanResult> {
    if (!this.config.volumeDir) throw new CatalogError('VALIDATION', 'SCANSTREAMFILE needs SOV_VOLUME_DIR');
    const device = new FileDevice({ dir: this.config.volumeDir, capacity: Number.MAX_SAFE_INTEGER, readOnly: true, name: 'scan' });
    return scanStreamFileInto(this.config.databaseUrl, schema, device, opts);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher?.close();
  }
}
