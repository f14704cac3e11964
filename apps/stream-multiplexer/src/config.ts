/**
 * The stream multiplexer's configuration: from the environment once at start (main.ts), or given
 * in full by tests and benchmarks (startStreamMultiplexer). Every variable is in the README.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ServiceKitError, type ServiceConfig, type ServiceHttpOptions } from '@deltaflow/service-kit';
import type { Device, StreamSettings } from '@deltaflow/tape';

/** `httpPort` (0 = any free port; undefined = none), host and token of /health, /metrics and /status. */
export interface StreamMultiplexerConfig extends ServiceHttpOptions {
  readonly brokers: readonly string[];
  readonly groupId?: string;
  readonly clientId?: string;
  /** the volume library: `<VOLSER>.vol` files (SOV_VOLUME_DIR, default `<DELTAFLOW_DATA_DIR>/tapes`) */
  readonly volumeDir: string;
  /** defaults of a stream's settings (a bare StreamDefine takes them) */
  readonly streamDefaults: StreamSettings;
  /** volsers are this prefix and a number (SOV_VOLSER_PREFIX, default V: V00001…) */
  readonly volserPrefix: string;
  /** a partial run is written once its oldest superblock waited this long (SOV_RUN_LATENCY_MS, 1000) */
  readonly runLatencyMs: number;
  /** superblock payloads held in memory, all streams (SOV_MEMORY_BYTES, 256 MiB); beyond it Kafka holds them */
  readonly memoryBytes: number;
  /** superblocks of one client file taken ahead of a gap (SOV_REORDER_WINDOW, 256): a writer's requests in flight together may land out of order */
  readonly reorderWindow: number;
  /** a gap not filled for this long aborts the client file (SOV_REORDER_TIMEOUT_MS, 60000) */
  readonly reorderTimeoutMs: number;
  /** group commit: a device syncs after this many bytes (SOV_SYNC_BYTES, 64 MiB) … */
  readonly syncBytes: number;
  /** … or once the oldest unsynced run is this old, or when it has nothing else to write (SOV_SYNC_MS, 200) */
  readonly syncMs: number;
  /** a device operation taking longer fails the device (SOV_DEVICE_TIMEOUT_MS, 60000) */
  readonly deviceTimeoutMs: number;
  /** a device is added when a stream's backlog exceeds objective × this (SOV_BACKLOG_SECONDS, 10) */
  readonly backlogSeconds: number;
  /** a device above the stream's minimum is released after being idle this long (SOV_IDLE_RELEASE_MS, 60000) */
  readonly idleReleaseMs: number;
  /** retention of sov.superblocks (SOV_RETENTION_MS, else DELTAFLOW_BULK_RETENTION_MS, 7 days): an alert when unplaced data nears it */
  readonly retentionMs: number;
  /** 32-byte operator key wrapping the data keys of encrypted client files (SOV_OPERATOR_KEY_FILE: 64 hex digits) */
  readonly operatorKey?: Buffer;
  /** the scrub verifies one finished volume every this many ms (SOV_SCRUB_INTERVAL_MS; 0 or unset: off) */
  readonly scrubIntervalMs?: number;
  /** makes the read-only device a verification reads through; default a read-only FileDevice on volumeDir */
  readonly readDeviceFactory?: () => Device;
  /** makes the device of a stream (tests: a device that fails); default a FileDevice on volumeDir */
  readonly deviceFactory?: (spec: DeviceSpec) => Device;
  readonly log?: (msg: string) => void;
  readonly now?: () => number;
}

/** What a device is made of. */
export interface DeviceSpec {
  readonly stream: string;
  readonly device: string;
  readonly dir: string;
  readonly capacity: number;
  readonly rateBytesPerSec?: number;
}

const MiB = 1 << 20;

function num(env: NodeJS.ProcessEnv, name: string, dflt: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new ServiceKitError('CONFIG', `${name}: expected an integer ≥ ${min}, got "${raw}"`);
  return n;
}

function optionalNum(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : num(env, name, 0, 1);
}

function enumOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], dflt: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!(allowed as readonly string[]).includes(raw)) throw new ServiceKitError('CONFIG', `${name}: expected one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

/** The configuration from the environment (after loadServiceConfig). */
export function multiplexerConfigFromEnv(c: ServiceConfig, env: NodeJS.ProcessEnv = process.env): StreamMultiplexerConfig {
  const keyFile = env.SOV_OPERATOR_KEY_FILE;
  let operatorKey: Buffer | undefined;
  if (keyFile) {
    let text: string;
    try {
      text = fs.readFileSync(keyFile, 'utf8').trim();
    } catch (e) {
      throw new ServiceKitError('CONFIG', `SOV_OPERATOR_KEY_FILE: cannot read ${keyFile}: ${(e as Error).message}`);
    }
    if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new ServiceKitError('CONFIG', 'SOV_OPERATOR_KEY_FILE: expected 64 hex digits (a 256-bit key)');
    operatorKey = Buffer.from(text, 'hex');
  }
  const encryption = enumOf(env, 'SOV_ENCRYPTION', ['none', 'aes-256-gcm'] as const, 'none');
  if (encryption !== 'none' && !operatorKey) throw new ServiceKitError('CONFIG', `SOV_ENCRYPTION=${encryption} needs an operator key: set SOV_OPERATOR_KEY_FILE`);
  const prefix = env.SOV_VOLSER_PREFIX || 'V';
  if (!/^[A-Z]{1,3}$/.test(prefix)) throw new ServiceKitError('CONFIG', `SOV_VOLSER_PREFIX: expected 1-3 letters A-Z, got "${prefix}"`);
  const minDevices = num(env, 'SOV_MIN_DEVICES', 1, 1);
  const maxDevices = num(env, 'SOV_MAX_DEVICES', Math.max(4, minDevices), minDevices);
  const rate = optionalNum(env, 'SOV_DEVICE_RATE');
  return {
    brokers: c.kafkaBrokers,
    groupId: c.groupId,
    httpPort: c.httpPort,
    volumeDir: path.resolve(env.SOV_VOLUME_DIR || path.join(c.dataDir, 'tapes')),
    streamDefaults: {
      minDevices,
      maxDevices,
      volumeCapacity: num(env, 'SOV_VOLUME_CAPACITY', 8 * 1024 * MiB, MiB),
      ...(rate ? { deviceRateBytesPerSec: rate } : {}),
      runSuperblocks: num(env, 'SOV_RUN_SUPERBLOCKS', 16, 1),
      checkpointEveryBytes: num(env, 'SOV_CHECKPOINT_BYTES', 64 * MiB, 64 * 1024),
      compression: enumOf(env, 'SOV_COMPRESSION', ['none', 'zstd', 'gzip', 'brotli'] as const, 'none'),
      encryption,
    },
    volserPrefix: prefix,
    runLatencyMs: num(env, 'SOV_RUN_LATENCY_MS', 1000),
    memoryBytes: num(env, 'SOV_MEMORY_BYTES', 256 * MiB, 4 * MiB),
    reorderWindow: num(env, 'SOV_REORDER_WINDOW', 256, 1),
    reorderTimeoutMs: num(env, 'SOV_REORDER_TIMEOUT_MS', 60_000, 100),
    syncBytes: num(env, 'SOV_SYNC_BYTES', 64 * MiB, 1),
    syncMs: num(env, 'SOV_SYNC_MS', 200),
    deviceTimeoutMs: num(env, 'SOV_DEVICE_TIMEOUT_MS', 60_000, 100),
    backlogSeconds: num(env, 'SOV_BACKLOG_SECONDS', 10, 1),
    idleReleaseMs: num(env, 'SOV_IDLE_RELEASE_MS', 60_000, 0),
    scrubIntervalMs: num(env, 'SOV_SCRUB_INTERVAL_MS', 0),
    retentionMs: num(env, 'SOV_RETENTION_MS', num(env, 'DELTAFLOW_BULK_RETENTION_MS', 7 * 24 * 3600 * 1000, 1), 1),
    ...(operatorKey ? { operatorKey } : {}),
  };
}

/** Defaults for a config given in code (tests, benchmarks): the environment's defaults. */
export function multiplexerDefaults(over: Partial<StreamMultiplexerConfig> & Pick<StreamMultiplexerConfig, 'brokers' | 'volumeDir'>): StreamMultiplexerConfig {
  const base = multiplexerConfigFromEnv({ service: 'stream-multiplexer', kafkaBrokers: [...over.brokers], groupId: over.groupId ?? 'deltaflow.stream-multiplexer', dataDir: over.volumeDir }, {});
  return { ...base, ...over, streamDefaults: { ...base.streamDefaults, ...over.streamDefaults } };
}
