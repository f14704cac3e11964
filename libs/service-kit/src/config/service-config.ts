/**
 * Configuration of a Deltaflow service, from environment variables, validated once at start.
 * Every variable is documented in the README ("Configuration").
 */
import * as path from 'node:path';
import { ServiceKitError } from '../errors';
import { brokersFromEnv } from '../kafka/kafka-client';

export interface ServiceConfig {
  /** the service's name: Kafka client id and consumer group prefix */
  readonly service: string;
  readonly kafkaBrokers: string[];
  /** consumer group: DELTAFLOW_GROUP_ID or `deltaflow.<service>` */
  readonly groupId: string;
  readonly databaseUrl?: string;
  /** root of every file a service writes: databases, data sets, volumes */
  readonly dataDir: string;
  /** HTTP port (<SERVICE>_HTTP_PORT, else HTTP_PORT) for /health, /metrics and queries; 0 picks a free port; undefined: no HTTP listener */
  readonly httpPort?: number;
}

function int(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ServiceKitError('CONFIG', `${name}: expected a port number 0-65535, got "${raw}"`);
  return n;
}

/** Reads and validates the service configuration from `env`. */
export function loadServiceConfig(service: string, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const brokers = brokersFromEnv(env);
  const portVar = `${service.toUpperCase().replace(/-/g, '_')}_HTTP_PORT`;
  return {
    service,
    kafkaBrokers: brokers,
    groupId: env.DELTAFLOW_GROUP_ID || `deltaflow.${service}`,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: path.resolve(env.DELTAFLOW_DATA_DIR || path.join(process.cwd(), '.deltaflow', 'data')),
    httpPort: int(portVar, env[portVar] ?? env.HTTP_PORT),
  };
}

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1000, KIB: 1024, M: 1024 ** 2, MB: 1000 ** 2, MIB: 1024 ** 2, G: 1024 ** 3, GB: 1000 ** 3, GIB: 1024 ** 3 };

/**
 * A positive byte count from `env[name]` (e.g. a rate limit): digits with an optional unit
 * (B, KB, MB, GB = powers of 1000; K, KiB, M, MiB, G, GiB = powers of 1024), undefined when unset,
 * CONFIG error otherwise.
 */
export function bytesFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = m ? UNITS[m[2].toUpperCase()] : undefined;
  const n = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(n > 0) || !Number.isSafeInteger(n)) throw new ServiceKitError('CONFIG', `${name}: expected a positive size such as 50MiB or 20000000, got "${raw}"`);
  return n;
}

/** A whole number in [min, max] from `env[name]`, `fallback` when unset, CONFIG error otherwise. */
export function intFromEnv(name: string, fallback: number, min: number, max: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ServiceKitError('CONFIG', `${name}: expected a whole number in ${min}..${max}, got "${raw}"`);
  return n;
}
