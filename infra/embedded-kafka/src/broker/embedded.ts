import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { CredentialStore } from '../auth/credentials';
import { SASL_MECHANISMS, type AuthConfig, type SaslMechanism } from '../auth/sasl-session';
import { ValidationError } from '../errors';
import { GroupCoordinator } from '../groups/coordinator';
import { GroupCommitFlusher } from '../storage/flusher';
import { GroupStore } from '../storage/group-store';
import { lockDataDir } from '../storage/data-dir-lock';
import { LogStore } from '../storage/log-store';
import { ProducerIdAllocator } from '../storage/producer-ids';
import { DEFAULT_TOPIC_CONFIG } from '../storage/topic-config';
import type { BrokerContext, FsyncPolicy } from './context';
import { KafkaServer } from './server';

/**
 * fsync policy (option `fsync`, CLI `--fsync`):
 *  - 'always' (default): a Produce with acks=-1 and every OffsetCommit are answered only after
 *    their bytes are fsynced. fsyncs are group-committed: all produces/commits that arrive while
 *    one fdatasync round runs share the next round. acks=1 and acks=0 are answered once the
 *    bytes are in the OS page cache (they survive kill -9 of the broker, not a power loss).
 *  - 'interval': nothing waits for fsync; dirty files are fsynced every `fsyncIntervalMs`.
 *  - 'never': the OS decides (tests that do not care about power loss).
 * Every append is a write() into the page cache before the response is sent, so under every
 * policy data acknowledged to a client survives kill -9 of the broker process.
 */
export interface EmbeddedKafkaOptions {
  readonly dataDir: string;
  /** 0 or undefined: any free port. */
  readonly port?: number;
  /** Listen address; default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /**
   * Host clients are told to connect to (Metadata brokers, FindCoordinator); Kafka's
   * advertised.listeners. Default: the listen host, except that a wildcard listen address
   * (0.0.0.0, ::) is never advertised: os.hostname() is, and the broker says so at start.
   */
  readonly advertisedHost?: string;
  /** Port clients are told to connect to (a port forward, a NAT); default the bound port. */
  readonly advertisedPort?: number;
  /** Partitions of auto-created topics and of CreateTopics with -1; default 1. */
  readonly numPartitions?: number;
  /** Create unknown topics on Metadata when the client allows it; default true. */
  readonly autoCreateTopics?: boolean;
  readonly fsync?: FsyncPolicy;
  readonly fsyncIntervalMs?: number;
  /**
   * Largest request frame accepted (Kafka socket.request.max.bytes); a larger size prefix closes
   * the connection before anything is buffered. Default 100 MiB.
   */
  readonly maxFrameBytes?: number;
  /**
   * Default max.message.bytes of topics that do not set their own (Kafka message.max.bytes):
   * a larger record batch is refused with MESSAGE_TOO_LARGE. Default 8 MiB.
   */
  readonly messageMaxBytes?: number;
  /** Delay of a new group's first rebalance (Kafka: 3000); default 0. */
  readonly initialRebalanceDelayMs?: number;
  /**
   * Offsets retention (Kafka offsets.retention.minutes): an EMPTY group's committed offsets
   * expire this long after its last commit (or rebalance, or becoming Empty), and the group
   * disappears. Default 7 days.
   */
  readonly offsetsRetentionMs?: number;
  /** How often expired offsets are looked for (Kafka offsets.retention.check.interval.ms); default 10 min. */
  readonly offsetsRetentionCheckIntervalMs?: number;
  /** How often topic retention.ms / retention.bytes are applied (Kafka log.retention.check.interval.ms); default 30 s. */
  readonly logRetentionCheckIntervalMs?: number;
  /**
   * TLS on the listener (node:tls): PEM files. `caFile` verifies client certificates, which
   * `clientAuth` asks for ('requested') or demands ('required'); default 'none'.
   */
  readonly tls?: EmbeddedKafkaTlsOptions;
  /**
   * SASL authentication on the listener: users from `credentialsFile` (see auth/credentials.ts;
   * written by `npm run broker -- add-user`), never a default user. Mechanisms default to
   * PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. Unauthenticated requests close the connection.
   */
  readonly sasl?: EmbeddedKafkaSaslOptions;
  /** 'info' logs group and topic events to stderr; default 'warn'. */
  readonly logLevel?: 'info' | 'warn' | 'error' | 'silent';
}

export interface EmbeddedKafkaTlsOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
  readonly clientAuth?: 'none' | 'requested' | 'required';
}

export interface EmbeddedKafkaSaslOptions {
  readonly credentialsFile: string;
  readonly mechanisms?: readonly SaslMechanism[];
}

export interface EmbeddedKafka {
  /** Bootstrap list for clients: the advertised host and port. */
  readonly brokers: string[];
  /** The port actually bound. */
  readonly port: number;
  /** The host:port actually listened on (may be a wildcard address). */
  readonly listening: string;
  /** Kafka's name for what clients must speak: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
  readonly securityProtocol: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  stop(): Promise<void>;
}

const LEVELS = { info: 0, warn: 1, error: 2, silent: 3 } as const;
const RETENTION_CHECK_MS = 30_000;

/** Starts a single-node Kafka-compatible broker in this process. */
export async function startEmbeddedKafka(opts: EmbeddedKafkaOptions): Promise<EmbeddedKafka> {
  if (!opts.dataDir) throw new ValidationError('dataDir is required');
  const host = opts.host ?? '127.0.0.1';
  const numPartitions = opts.numPartitions ?? 1;
  if (!Number.isInteger(numPartitions) || numPartitions < 1) throw new ValidationError(`numPartitions must be an integer >= 1, got ${numPartitions}`);
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ValidationError(`port must be 0..65535, got ${port}`);
  if (opts.advertisedHost !== undefined && !/^[^\s/]{1,255}$/.test(opts.advertisedHost)) {
    throw new ValidationError(`advertisedHost must be a host name or address, got '${opts.advertisedHost}'`);
  }
  if (opts.advertisedPort !== undefined && (!Number.isInteger(opts.advertisedPort) || opts.advertisedPort < 1 || opts.advertisedPort > 65535)) {
    throw new ValidationError(`advertisedPort must be 1..65535, got ${opts.advertisedPort}`);
  }
  const offsetsRetentionMs = opts.offsetsRetentionMs ?? 7 * 24 * 3_600_000;
  const offsetsCheckMs = opts.offsetsRetentionCheckIntervalMs ?? 600_000;
  const logRetentionCheckMs = opts.logRetentionCheckIntervalMs ?? RETENTION_CHECK_MS;
  for (const [name, v] of [['offsetsRetentionMs', offsetsRetentionMs], ['offsetsRetentionCheckIntervalMs', offsetsCheckMs], ['logRetentionCheckIntervalMs', logRetentionCheckMs]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ValidationError(`${name} must be an integer >= 1, got ${v}`);
  }
  const maxFrameBytes = opts.maxFrameBytes ?? 100 * 1024 * 1024;
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1024 || maxFrameBytes > 0x7fffffff) {
    throw new ValidationError(`maxFrameBytes must be an integer in 1024..${0x7fffffff}, got ${maxFrameBytes}`);
  }
  const messageMaxBytes = opts.messageMaxBytes ?? DEFAULT_TOPIC_CONFIG.maxMessageBytes;
  if (!Number.isInteger(messageMaxBytes) || messageMaxBytes < 0 || messageMaxBytes > 0x7fffffff) {
    throw new ValidationError(`messageMaxBytes must be an integer in 0..${0x7fffffff}, got ${messageMaxBytes}`);
  }
  const fsyncPolicy = opts.fsync ?? 'always';
  const tlsOptions = opts.tls ? readTlsOptions(opts.tls) : undefined;
  const minLevel = LEVELS[opts.logLevel ?? 'warn'];
  const log = (level: string, msg: string) => {
    if ((LEVELS[level as keyof typeof LEVELS] ?? 2) >= minLevel) process.stderr.write(`[embedded-kafka] ${level}: ${msg}\n`);
  };

  const auth = opts.sasl ? saslConfig(opts.sasl, log) : null;
  if (auth?.mechanisms.includes('PLAIN') && !tlsOptions && !isLoopback(host)) {
    log('warn', `SASL PLAIN without TLS on ${host}: passwords cross the network in clear (add tls, or leave PLAIN out of the mechanisms)`);
  }
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const lock = await lockDataDir(opts.dataDir);
  const flusher = new GroupCommitFlusher();
  const logs = new LogStore(opts.dataDir, flusher, log, { ...DEFAULT_TOPIC_CONFIG, maxMessageBytes: messageMaxBytes });
  const groupStore = new GroupStore(opts.dataDir, log);
  try {
    logs.open();
    groupStore.open();
  } catch (e) {
    logs.close();
    await lock.release();
    throw e;
  }
  const groups = new GroupCoordinator(groupStore, {
    initialRebalanceDelayMs: opts.initialRebalanceDelayMs ?? 0,
    minSessionTimeoutMs: 1000,
    maxSessionTimeoutMs: 1_800_000,
    newMemberId: (clientId) => `${clientId || 'member'}-${randomUUID()}`,
    log,
    now: () => Date.now(),
  });
  const producerIds = new ProducerIdAllocator(path.join(opts.dataDir, 'producer-ids'), logs.maxProducerId() + 1, log);

  let advertisedHost = opts.advertisedHost ?? host;
  if (opts.advertisedHost === undefined && isWildcard(host)) {
    // A wildcard is an instruction to the kernel, not an address a client can reach.
    advertisedHost = os.hostname();
    log('warn', `listening on the wildcard address ${host}: advertising os.hostname() '${advertisedHost}' to clients (set advertisedHost / --advertised-host to change)`);
  }
  const broker: BrokerContext = {
    nodeId: 0,
    advertisedHost,
    advertisedPort: opts.advertisedPort ?? port,
    clusterId: 'deltaflow-embedded',
    logs,
    groupStore,
    groups,
    flusher,
    fsync: fsyncPolicy,
    defaultPartitions: numPartitions,
    autoCreateTopics: opts.autoCreateTopics ?? true,
    now: () => Date.now(),
    log,
    nextProducerId: () => producerIds.next(),
    auth,
  };
  const server = new KafkaServer(broker, { maxFrameBytes, tls: tlsOptions });
  let bound: number;
  try {
    bound = await server.listen(port, host);
  } catch (e) {
    logs.close();
    groupStore.close();
    await lock.release();
    throw e;
  }
  broker.advertisedPort = opts.advertisedPort ?? bound;

  const timers: NodeJS.Timeout[] = [];
  timers.push(
    setInterval(() => {
      try {
        logs.applyRetention(Date.now());
      } catch (e) {
        log('error', `retention: ${(e as Error).message}`);
      }
    }, logRetentionCheckMs),
  );
  timers.push(
    setInterval(() => {
      try {
        const expired = groups.expireOffsets(Date.now(), offsetsRetentionMs);
        if (expired.length > 0) {
          flusher.markDirty(groupStore);
          log('info', `offsets retention: expired ${expired.length} empty group(s): ${expired.slice(0, 10).join(', ')}${expired.length > 10 ? ', ...' : ''}`);
        }
      } catch (e) {
        log('error', `offsets retention: ${(e as Error).message}`);
      }
    }, offsetsCheckMs),
  );
  if (fsyncPolicy === 'interval') {
    timers.push(setInterval(() => void flusher.flush().catch((e) => log('error', `fsync: ${(e as Error).message}`)), opts.fsyncIntervalMs ?? 1000));
  }
  for (const t of timers) t.unref();

  let stopping: Promise<void> | null = null;
  return {
    brokers: [`${hostPort(broker.advertisedHost)}:${broker.advertisedPort}`],
    port: bound,
    listening: `${hostPort(host)}:${bound}`,
    securityProtocol: auth ? (tlsOptions ? 'SASL_SSL' : 'SASL_PLAINTEXT') : tlsOptions ? 'SSL' : 'PLAINTEXT',
    advertisedHost: broker.advertisedHost,
    advertisedPort: broker.advertisedPort,
    stop() {
      stopping ??= (async () => {
        for (const t of timers) clearInterval(t);
        await server.close();
        groups.close();
        await flusher.flush().catch(() => undefined);
        logs.close();
        groupStore.close();
        await lock.release();
      })();
      return stopping;
    },
  };
}

/** Reads the PEM files (a missing or unreadable file is a ValidationError: the broker does not start). */
function readTlsOptions(t: EmbeddedKafkaTlsOptions): tls.TlsOptions {
  const read = (what: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new ValidationError(`tls ${what} ${file}: ${(e as Error).message}`);
    }
  };
  const clientAuth = t.clientAuth ?? 'none';
  if (clientAuth !== 'none' && !t.caFile) throw new ValidationError(`tls clientAuth '${clientAuth}' needs caFile to verify client certificates`);
  const options: tls.TlsOptions = {
    cert: read('certFile', t.certFile),
    key: read('keyFile', t.keyFile),
    ca: t.caFile ? read('caFile', t.caFile) : undefined,
    requestCert: clientAuth !== 'none',
    rejectUnauthorized: clientAuth === 'required',
    minVersion: 'TLSv1.2',
  };
  try {
    tls.createSecureContext(options); // a key that does not match its certificate fails here, not at the first client
  } catch (e) {
    throw new ValidationError(`tls: ${(e as Error).message}`);
  }
  return options;
}

function saslConfig(s: EmbeddedKafkaSaslOptions, log: (level: string, msg: string) => void): AuthConfig {
  const mechanisms = s.mechanisms ?? SASL_MECHANISMS;
  if (mechanisms.length === 0) throw new ValidationError('sasl.mechanisms must name at least one mechanism');
  for (const m of mechanisms) if (!SASL_MECHANISMS.includes(m)) throw new ValidationError(`unknown SASL mechanism '${m}' (supported: ${SASL_MECHANISMS.join(', ')})`);
  return { mechanisms: [...new Set(mechanisms)], credentials: CredentialStore.open(s.credentialsFile, log), fakeSecret: randomBytes(32), failureDelayMs: 100 };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** 0.0.0.0, ::, '' and other all-zero addresses listen everywhere and name no host. */
function isWildcard(host: string): boolean {
  if (host === '') return true;
  if (net.isIPv4(host)) return host === '0.0.0.0';
  return net.isIPv6(host) && /^[0:]+$/.test(host);
}

/** IPv6 literals are bracketed in host:port strings. */
function hostPort(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}
