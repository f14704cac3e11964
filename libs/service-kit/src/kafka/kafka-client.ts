/**
 * The one place a Kafka client is made. Every Deltaflow process (services, `dsf`, replay
 * tools) connects through `createKafka`, so brokers and security settings are read once, from
 * the same environment variables, and the same client options hold everywhere:
 *
 *   KAFKA_BROKERS              host:port[,host:port...]   (required)
 *   KAFKA_TLS                  1 = connect with TLS (implied by any KAFKA_TLS_* file)
 *   KAFKA_TLS_CA_FILE          PEM bundle of the CAs that sign the brokers' certificates
 *   KAFKA_TLS_CERT_FILE / KAFKA_TLS_KEY_FILE   client certificate and key (mutual TLS)
 *   KAFKA_SASL_MECHANISM       plain | scram-sha-256 | scram-sha-512
 *   KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)
 */
import * as fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type KafkaConfig, type Producer, type SASLOptions } from 'kafkajs';
import { ServiceKitError } from '../errors';
import { observeProduced } from '../observability/published-events';

export interface KafkaSecurity {
  readonly ssl?: ConnectionOptions | boolean;
  readonly sasl?: SASLOptions;
}

export interface KafkaConnection extends KafkaSecurity {
  readonly brokers: readonly string[];
}

const BROKER = /^[^\s:,]+:\d{1,5}$/;

/** KAFKA_BROKERS as a list; CONFIG error when missing or malformed. */
export function brokersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const brokers = (env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (brokers.length === 0) throw new ServiceKitError('CONFIG', 'KAFKA_BROKERS: required, a comma-separated list of host:port');
  for (const b of brokers) if (!BROKER.test(b)) throw new ServiceKitError('CONFIG', `KAFKA_BROKERS: "${b}" is not host:port`);
  return brokers;
}

function readFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[name];
  if (!file) return undefined;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ServiceKitError('CONFIG', `${name}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** TLS and SASL settings from the environment (none when no KAFKA_TLS* / KAFKA_SASL_* variable is set). */
export function kafkaSecurityFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaSecurity {
  const ca = readFile(env, 'KAFKA_TLS_CA_FILE');
  const cert = readFile(env, 'KAFKA_TLS_CERT_FILE');
  const key = readFile(env, 'KAFKA_TLS_KEY_FILE');
  const tls = env.KAFKA_TLS === '1' || env.KAFKA_TLS === 'true' || ca !== undefined || cert !== undefined;
  const ssl: ConnectionOptions | undefined = tls ? { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } : undefined;
  const mechanism = env.KAFKA_SASL_MECHANISM?.toLowerCase();
  if (!mechanism) return ssl ? { ssl } : {};
  if (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512') {
    throw new ServiceKitError('CONFIG', `KAFKA_SASL_MECHANISM: expected plain, scram-sha-256 or scram-sha-512, got "${env.KAFKA_SASL_MECHANISM}"`);
  }
  const username = env.KAFKA_SASL_USERNAME;
  const password = env.KAFKA_SASL_PASSWORD ?? readFile(env, 'KAFKA_SASL_PASSWORD_FILE')?.trim();
  if (!username || !password) throw new ServiceKitError('CONFIG', 'KAFKA_SASL_MECHANISM is set: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or _FILE) are required');
  return { ...(ssl ? { ssl } : {}), sasl: { mechanism, username, password } as SASLOptions };
}

/** Brokers and security from the environment. */
export function kafkaConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaConnection {
  return { brokers: brokersFromEnv(env), ...kafkaSecurityFromEnv(env) };
}

export interface CreateKafkaOptions {
  readonly clientId: string;
  readonly brokers: readonly string[];
  /** default: from the environment (kafkaSecurityFromEnv) */
  readonly security?: KafkaSecurity;
  /** retries of a failed request (default 10) */
  readonly retries?: number;
  readonly quiet?: boolean;
}

/**
 * A kafkajs client with Deltaflow's settings. Its producers report what Kafka acknowledged to the
 * process's metrics (deltaflow_events_published_total and the operations derived from the events:
 * observability/published-events.ts).
 */
export function createKafka(o: CreateKafkaOptions): Kafka {
  const security = o.security ?? kafkaSecurityFromEnv();
  const config: KafkaConfig = {
    clientId: o.clientId,
    brokers: [...o.brokers],
    logLevel: o.quiet ? logLevel.NOTHING : logLevel.WARN,
    retry: { retries: o.retries ?? 10 },
    ...(security.ssl ? { ssl: security.ssl } : {}),
    ...(security.sasl ? { sasl: security.sasl } : {}),
  };
  const kafka = new Kafka(config);
  const producer = kafka.producer.bind(kafka);
  kafka.producer = (cfg) => instrumentProducer(producer(cfg));
  return kafka;
}

/** Counts the records of every acknowledged send (the producer's own methods, wrapped). */
function instrumentProducer(p: Producer): Producer {
  const send = p.send.bind(p);
  const sendBatch = p.sendBatch.bind(p);
  p.send = async (record) => {
    const out = await send(record);
    observeProduced(record.topic, record.messages);
    return out;
  };
  p.sendBatch = async (batch) => {
    const out = await sendBatch(batch);
    for (const t of batch.topicMessages ?? []) observeProduced(t.topic, t.messages);
    return out;
  };
  return p;
}
