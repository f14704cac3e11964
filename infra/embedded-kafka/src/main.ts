import { startEmbeddedKafka } from './broker/embedded';
import type { FsyncPolicy } from './broker/context';
import { EmbeddedKafkaError } from './errors';

/**
 * Runs the embedded broker alone.
 *   npm run broker -- --port N --data-dir DIR [--host H] [--advertised-host H] [--advertised-port N]
 *                     [--partitions N] [--no-auto-create] [--offsets-retention-minutes M]
 *                     [--socket-request-max-bytes N] [--message-max-bytes N]
 *                     [--fsync always|interval|never] [--fsync-interval-ms MS] [--verbose]
 * --host is the listen address (default 127.0.0.1); --advertised-host/--advertised-port are what
 *   Metadata and FindCoordinator tell clients (default: the listen address and bound port; a
 *   wildcard listen address advertises os.hostname() instead, and says so).
 * --socket-request-max-bytes (Kafka socket.request.max.bytes, default 104857600): a request whose
 *   size prefix is larger closes the connection before anything is buffered.
 * --message-max-bytes (Kafka message.max.bytes, default 8388608): max.message.bytes of topics
 *   that do not set their own; a larger batch is refused with MESSAGE_TOO_LARGE (10).
 * --offsets-retention-minutes (Kafka offsets.retention.minutes, default 10080 = 7 days): an
 *   EMPTY group's committed offsets expire that long after its last commit, and the group goes.
 * --fsync always (default): acks=-1 produces and offset commits are answered after a
 *   group-committed fdatasync; interval: background fsync every --fsync-interval-ms;
 *   never: the OS flushes. Every policy survives kill -9 of the broker (writes are in the page
 *   cache before the answer); only 'always' also survives power loss for acks=-1 data.
 * Prints `embedded-kafka listening on HOST:PORT (advertised as AHOST:APORT)` once ready (the launcher
 * reads the word after "on"); SIGINT/SIGTERM stop it cleanly.
 */
const USAGE =
  'usage: npm run broker -- --port N --data-dir DIR [--host H] [--advertised-host H] [--advertised-port N] [--partitions N] [--no-auto-create] [--offsets-retention-minutes M] [--socket-request-max-bytes N] [--message-max-bytes N] [--fsync always|interval|never] [--fsync-interval-ms MS] [--verbose]';

interface Args {
  port: number;
  dataDir: string;
  host: string;
  advertisedHost?: string;
  advertisedPort?: number;
  partitions: number;
  offsetsRetentionMinutes?: number;
  socketRequestMaxBytes?: number;
  messageMaxBytes?: number;
  autoCreate: boolean;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  verbose: boolean;
}

function fail(msg: string): never {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Partial<Args> = { host: '127.0.0.1', partitions: 1, autoCreate: true, fsync: 'always', fsyncIntervalMs: 1000, verbose: false, port: 0 };
  const int = (flag: string, v: string | undefined, min: number, max: number): number => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) fail(`${flag} needs an integer in ${min}..${max}, got '${v ?? ''}'`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--port':
        a.port = int(f, argv[++i], 0, 65535);
        break;
      case '--data-dir':
        a.dataDir = argv[++i] ?? fail('--data-dir needs a directory');
        break;
      case '--host':
        a.host = argv[++i] ?? fail('--host needs an address');
        break;
      case '--advertised-host':
        a.advertisedHost = argv[++i] ?? fail('--advertised-host needs a host name or address');
        break;
      case '--advertised-port':
        a.advertisedPort = int(f, argv[++i], 1, 65535);
        break;
      case '--partitions':
        a.partitions = int(f, argv[++i], 1, 10000);
        break;
      case '--offsets-retention-minutes':
        a.offsetsRetentionMinutes = int(f, argv[++i], 1, 52_560_000);
        break;
      case '--socket-request-max-bytes':
        a.socketRequestMaxBytes = int(f, argv[++i], 1024, 0x7fffffff);
        break;
      case '--message-max-bytes':
        a.messageMaxBytes = int(f, argv[++i], 0, 0x7fffffff);
        break;
      case '--no-auto-create':
        a.autoCreate = false;
        break;
      case '--fsync': {
        const v = argv[++i];
        if (v !== 'always' && v !== 'interval' && v !== 'never') fail(`--fsync must be always, interval or never, got '${v ?? ''}'`);
        a.fsync = v;
        break;
      }
      case '--fsync-interval-ms':
        a.fsyncIntervalMs = int(f, argv[++i], 1, 3_600_000);
        break;
      case '--verbose':
        a.verbose = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        fail(`unknown argument '${f}'`);
    }
  }
  if (!a.dataDir) fail('--data-dir is required');
  return a as Args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const kafka = await startEmbeddedKafka({
    dataDir: args.dataDir,
    port: args.port,
    host: args.host,
    advertisedHost: args.advertisedHost,
    advertisedPort: args.advertisedPort,
    numPartitions: args.partitions,
    autoCreateTopics: args.autoCreate,
    maxFrameBytes: args.socketRequestMaxBytes,
    messageMaxBytes: args.messageMaxBytes,
    offsetsRetentionMs: args.offsetsRetentionMinutes === undefined ? undefined : args.offsetsRetentionMinutes * 60_000,
    fsync: args.fsync,
    fsyncIntervalMs: args.fsyncIntervalMs,
    logLevel: args.verbose ? 'info' : 'warn',
  });
  process.stdout.write(`embedded-kafka listening on ${kafka.listening} (advertised as ${kafka.brokers[0]})\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`embedded-kafka: ${signal}, stopping\n`);
    kafka.stop().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`embedded-kafka: stop failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // started by the launcher: stop with it even if it dies without a word
  if (process.send) process.once('disconnect', () => stop('launcher gone'));
}

main().catch((e) => {
  // Refusals (a locked data directory, bad options) are one clear line; faults keep their stack.
  const text = e instanceof EmbeddedKafkaError && e.code === 'VALIDATION' ? e.message : ((e as Error).stack ?? String(e));
  process.stderr.write(`embedded-kafka: ${text}\n`);
  process.exit(1);
});
