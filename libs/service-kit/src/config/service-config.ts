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
