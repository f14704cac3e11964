/**
 * SOVADM's operations for the HTTP API: expire (publishing ClientFileExpire on sov.commands),
 * catalog backup and restore (files under `<dataDir>/catalog-backups`), SCANSTREAMFILE (volumes
 * of `volumeDir`, read-only).
 */
import * as path from 'node:path';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { encodeMessage, type AnyMessage } from '@deltaflow/contracts';
import { safePathIn } from '@deltaflow/core';
import { createKafka, EventPublisher } from '@deltaflow/service-kit';
import type { Admin } from 'kafkajs';
import { topicRetentionOf, type TopicRetentionView } from '../retention/topic-retention';
import { FileDevice } from '@deltaflow/tape';
import type { DataSource } from 'typeorm';
import { CatalogError } from '../errors';
import { expireDataSets, retentionOf, retentionOfAll, type DataSetExpiryResult, type RetentionDefaults, type RetentionView } from '../retention/retention';
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
  /** the data set retention of a database without one set (DSF_RETENTION_KEEP_SAVES / DSF_RETENTION_KEEP_DAYS; none: keep everything) */
  readonly retentionDefaults?: RetentionDefaults;
  /** run `dsf expire` (client files and data sets) by itself this often (DSF_EXPIRE_INTERVAL_MS; 0 or absent: only when asked) */
  readonly expireIntervalMs?: number;
  readonly log?: (m: string) => void;
}

@Injectable()
export class SovadmService implements OnApplicationBootstrap, OnApplicationShutdown {
  private publisher?: EventPublisher<AnyMessage>;
  private admin?: Promise<Admin>;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(CATALOG_DB) private readonly ds: DataSource,
    @Inject(SOVADM_CONFIG) private readonly config: SovadmConfig,
  ) {}

  /** The retention pass on its own (expireIntervalMs): what `dsf expire` does, as of now. Every instance may run it: the commands are idempotent. */
  onApplicationBootstrap(): void {
    const every = this.config.expireIntervalMs ?? 0;
    if (every <= 0 || !this.config.brokers?.length) return;
    const log = this.config.log ?? ((m: string) => console.log(`[catalog] ${m}`));
    this.timer = setInterval(() => {
      this.expire(Date.now(), false).then(
        (r) => {
          const n = r.dataSets.databases.reduce((k, d) => k + d.expired.length, 0);
          if (n + r.expired.length > 0) log(`retention pass: ${r.expired.length} client file(s) and the data sets of ${n} save(s) expiring`);
        },
        (e) => log(`retention pass failed: ${(e as Error).message}; trying again in ${every} ms`),
      );
    }, every);
    this.timer.unref();
  }

  private async send(commands: AnyMessage[]): Promise<void> {
    this.publisher ??= new EventPublisher<AnyMessage>(this.config.brokers!, 'catalog-sovadm', (m) => encodeMessage(m));
    await this.publisher.publish(...commands);
  }

  /** Client files whose date passed, and data sets in directories outside their database's retention (docs/ARCHITECTURE.md "Retention"). */
  async expire(asOf: number, dryRun: boolean): Promise<ExpireResult & { dataSets: DataSetExpiryResult }> {
    if (!dryRun && !this.config.brokers?.length) throw new CatalogError('VALIDATION', 'expire: this catalog has no Kafka brokers to send expiry commands to (use dryRun)');
    const files = await expireClientFiles(this.ds, (c) => this.send(c), asOf, { dryRun });
    const dataSets = await expireDataSets(this.ds, this.config.retentionDefaults ?? {}, asOf, (c) => this.send(c), { dryRun, correlationId: `expire-${asOf}` });
    return { ...files, dataSets };
  }

  /** The data set retention of one database (or of every database) as of `asOf`. */
  retention(dbid: number | undefined, asOf: number): Promise<RetentionView[]> {
    const defaults = this.config.retentionDefaults ?? {};
    return dbid === undefined ? retentionOfAll(this.ds, defaults, asOf) : retentionOf(this.ds, dbid, defaults, asOf).then((v) => [v]);
  }

  /** The topic retentions of a database's partition now, or why they are not known (no Kafka, unreachable: within 5 s). */
  async topicRetention(dbid: number): Promise<TopicRetentionView[] | { error: string }> {
    if (!this.config.brokers?.length) return { error: 'this catalog has no Kafka brokers' };
    try {
      this.admin ??= (async () => {
        const a = createKafka({ clientId: 'catalog-retention', brokers: this.config.brokers! }).admin();
        await a.connect();
        return a;
      })();
      const admin = await this.admin;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('Kafka did not answer within 5 s')), 5000)));
      try {
        return await Promise.race([topicRetentionOf(admin, dbid), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      this.admin = undefined;
      return { error: (e as Error).message };
    }
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
    if (this.timer) clearInterval(this.timer);
    await this.publisher?.close();
    await (await this.admin?.catch(() => undefined))?.disconnect();
  }
}
