/**
 * Where `dsf` finds Kafka and the catalog. KAFKA_BROKERS and CATALOG_URL win; without them,
 * `dsf` talks to the system that `npm start` runs from the same home: the launcher writes
 * $DELTAFLOW_HOME/run/endpoints.json (0600) once everything is up and removes it when it stops:
 *
 *   { "kafkaBrokers": ["127.0.0.1:19092"], "catalogUrl": "http://127.0.0.1:18080", "pid": 31200, "startedAt": "2026-...Z" }
 *
 * DELTAFLOW_HOME defaults to ./.deltaflow, as for the launcher. A file whose launcher (pid) is
 * gone is stale (the launcher was killed) and ignored, with a note saying so. The KAFKA_TLS_* /
 * KAFKA_SASL_* variables apply whichever way the brokers were found (createKafka).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { brokersFromEnv, kafkaSecurityFromEnv, type KafkaConnection } from '@deltaflow/service-kit';

export const ENDPOINTS_FILE = path.join('run', 'endpoints.json');

/** Infrastructure trouble: nothing to talk to (exit 3). */
export class EndpointsError extends Error {
  readonly code = 'NO_ENDPOINTS';
  constructor(message: string) {
    super(message);
    this.name = 'EndpointsError';
  }
}

export interface EndpointsFile {
  readonly kafkaBrokers: readonly string[];
  readonly catalogUrl?: string;
  readonly pid: number;
  readonly startedAt: string;
}

export interface DiscoveryContext {
  readonly env: NodeJS.ProcessEnv;
  /** where a relative DELTAFLOW_HOME is resolved (default: the working directory) */
  readonly cwd?: string;
  /** notes for the operator (stale file ignored, endpoints taken from the file) */
  readonly note?: (line: string) => void;
}

export function endpointsFilePath(ctx: DiscoveryContext): string {
  return path.resolve(ctx.cwd ?? process.cwd(), ctx.env.DELTAFLOW_HOME || '.deltaflow', ENDPOINTS_FILE);
}

/** True if a process with this pid exists (EPERM: it does, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseEndpoints(file: string, text: string): EndpointsFile {
  let v: any;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new EndpointsError(`${file}: not JSON (${(e as Error).message})`);
  }
  const ok =
    typeof v === 'object' &&
    v !== null &&
    Array.isArray(v.kafkaBrokers) &&
    v.kafkaBrokers.length > 0 &&
    v.kafkaBrokers.every((b: unknown) => typeof b === 'string' && /^[^\s:,]+:\d{1,5}$/.test(b)) &&
    (v.catalogUrl === undefined || (typeof v.catalogUrl === 'string' && /^https?:\/\//.test(v.catalogUrl))) &&
    Number.isSafeInteger(v.pid) &&
    v.pid > 0;
  if (!ok) throw new EndpointsError(`${file}: expected {kafkaBrokers: ["host:port", ...], catalogUrl?: "http://...", pid, startedAt}`);
  return { kafkaBrokers: v.kafkaBrokers, ...(v.catalogUrl ? { catalogUrl: v.catalogUrl } : {}), pid: v.pid, startedAt: String(v.startedAt ?? '') };
}

/**
 * The endpoints file of the system running from this home, or undefined (with why in `missing`)
 * when there is none or its launcher is gone.
 */
export function readEndpointsFile(ctx: DiscoveryContext): { endpoints?: EndpointsFile; file: string; missing?: string } {
  const file = endpointsFilePath(ctx);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, missing: `no ${file} (npm start writes it while the system runs)` };
    throw new EndpointsError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const endpoints = parseEndpoints(file, text);
  if (!processAlive(endpoints.pid)) {
    const why = `${file} is stale: the launcher that wrote it (pid ${endpoints.pid}, started ${endpoints.startedAt || 'at an unknown time'}) is gone`;
    ctx.note?.(`dsf: ignoring ${why}`);
    return { file, missing: why };
  }
  return { endpoints, file };
}

const HINT = 'set KAFKA_BROKERS (and CATALOG_URL), or start the system with `npm start` (DELTAFLOW_HOME chooses its home)';

/** Brokers and TLS/SASL settings: KAFKA_BROKERS, else the running system's endpoints file. */
export function kafkaConnection(ctx: DiscoveryContext): KafkaConnection {
  const security = kafkaSecurityFromEnv(ctx.env);
  if (ctx.env.KAFKA_BROKERS) return { brokers: brokersFromEnv(ctx.env), ...security };
  const found = readEndpointsFile(ctx);
  if (!found.endpoints) throw new EndpointsError(`KAFKA_BROKERS is not set and no running Deltaflow was found: ${found.missing}; ${HINT}`);
  return { brokers: [...found.endpoints.kafkaBrokers], ...security };
}

/** The catalog's base URL: CATALOG_URL, else the running system's endpoints file (if it uses the same brokers). */
export function catalogUrl(ctx: DiscoveryContext): string {
  if (ctx.env.CATALOG_URL) return ctx.env.CATALOG_URL.replace(/\/+$/, '');
  const found = readEndpointsFile(ctx);
  if (!found.endpoints) throw new EndpointsError(`CATALOG_URL is not set and no running Deltaflow was found: ${found.missing}; ${HINT}`);
  if (!found.endpoints.catalogUrl) throw new EndpointsError(`CATALOG_URL is not set and the system of ${found.file} runs no catalog`);
  if (ctx.env.KAFKA_BROKERS) {
    // KAFKA_BROKERS names a system; a catalog of another one would answer about the wrong saves
    const env = brokersFromEnv(ctx.env).sort().join(',');
    if (env !== [...found.endpoints.kafkaBrokers].sort().join(','))
      throw new EndpointsError(`CATALOG_URL is not set, and the running system of ${found.file} uses other brokers (${found.endpoints.kafkaBrokers.join(',')}) than KAFKA_BROKERS (${env})`);
  }
  return found.endpoints.catalogUrl.replace(/\/+$/, '');
}
