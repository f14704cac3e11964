/**
 * change-logger: consumes dsf.block-changes (batched) and dsf.events, keeps the DLOG of each
 * protected database as event-sourced state on dsf.dlog, and produces the PLOG on dsf.plog.
 * The decisions are @deltaflow/dlog's (ChangeLog, the DLOG decider); this app wires them to
 * Kafka. Interface for its consumers: README.md.
 *
 * Retention: every retentionIntervalMs (CHANGE_LOGGER_RETENTION_INTERVAL_MS, default 30 s; 0: off)
 * it truncates the partitions of dsf.block-changes it owns below what it has logged and every live
 * reader has read (block-changes-retention.ts).
 *
 * Scaling: one instance owns all partitions (the DLOG of a dbid needs its block changes
 * and its save events in one process); a second instance would only be a standby.
 */
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import type { ProtectedDatabase } from '@deltaflow/dlog';
import { Assignments, contractCodec, runService, type ServiceConfig, type ServiceHttpOptions } from '@deltaflow/service-kit';
import { BlockChangesRetention } from './block-changes-retention';
import { ChangeLoggerModule } from './change-logger.module';
import { ChangeLoggerService, type ChangeLoggerConfig } from './change-logger.service';
import { registerDlogMetrics } from './dlog-metrics';

export type { ChangeLoggerConfig } from './change-logger.service';

export interface RunningChangeLogger {
  readonly changeLog: ChangeLoggerService['changeLog'];
  /** counters since start */
  readonly stats: ChangeLoggerService['stats'];
  /** /health and /metrics (with httpPort) */
  readonly httpUrl?: string;
  /** the dsf.block-changes retention (absent when retentionIntervalMs is 0) */
  readonly retention?: BlockChangesRetention;
  stop(): Promise<void>;
}

/** Rebuilds the DLOG from dsf.dlog, then consumes dsf.block-changes and dsf.events. */
export async function startChangeLogger(config: ChangeLoggerConfig & ServiceHttpOptions): Promise<RunningChangeLogger> {
  const groupId = config.groupId ?? 'deltaflow.change-logger';
  const running = await runService({
    name: 'change-logger',
    module: ChangeLoggerModule.register(config),
    http: config,
    kafka: {
      brokers: config.brokers,
      clientId: config.clientId ?? 'change-logger',
      groupId,
      fromBeginning: true,
      // large fetches = large batches: fewer durable PLOG/DLOG round trips per change (16 MiB: several
      // upstream record batches per handler call; 4 MiB held one 2 MiB batch at a time)
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      ...contractCodec(groupId, config.now),
    },
  });
  const svc = running.app.get(ChangeLoggerService);
  const unregister = registerDlogMetrics(svc.changeLog, config.databases);
  let retention: BlockChangesRetention | undefined;
  if ((config.retentionIntervalMs ?? 30_000) > 0) {
    const assignments = running.app.get(Assignments);
    retention = new BlockChangesRetention({
      brokers: config.brokers,
      groupId,
      clientId: config.clientId ?? 'change-logger',
      intervalMs: config.retentionIntervalMs ?? 30_000,
      owned: () => assignments.indices(),
      databases: config.databases.map((d) => d.dbid),
      partitionOf: (dbid) => svc.partitionOfDatabase(dbid),
      whileIdle: (fn) => svc.whileIdle(fn),
      changeLog: svc.changeLog,
      dlogSnapshotEvery: config.dlogSnapshotEvery ?? 10_000,
      snapshot: (partition) => svc.snapshot(partition),
      log: config.log ?? (() => undefined),
    });
    await retention.start();
  }
  const stop = async () => {
    unregister();
    await retention?.stop();
    await running.stop();
  };
  return { changeLog: svc.changeLog, stats: svc.stats, httpUrl: running.httpUrl, retention, stop };
}

/**
 * Which databases the change logger protects: CHANGE_LOGGER_DATABASES, database directories
 * whose header.json gives dbid and geometry (default: the sample nucleus's database). A dbid is
 * known only from here: the change logger must know area sizes, block sizes and file extents to
 * validate upstream input, so an unregistered dbid is rejected (UNKNOWN_DBID), never guessed.
 */
export function protectedDatabaseDirs(config: Pick<ServiceConfig, 'dataDir'>, env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.CHANGE_LOGGER_DATABASES || path.join(config.dataDir, 'nucleus-sim', 'db1', 'db'))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Reads dbid and geometry from database directories (read-only; the files are not kept open). */
export function databasesFromDirs(dirs: readonly string[]): ProtectedDatabase[] {
  return dirs.map((dir) => {
    const db = BlockDatabase.open(dir, { readOnly: true });
    try {
      return { dbid: db.dbid, geometry: db.geometry };
    } finally {
      db.close();
    }
  });
}
