import { addUser, removeUser } from './auth/credentials';
import { SASL_MECHANISMS, type SaslMechanism } from './auth/sasl-session';
import type { FsyncPolicy } from './broker/context';
import { startEmbeddedKafka, type EmbeddedKafkaOptions } from './broker/embedded';
import { EmbeddedKafkaError } from './errors';
import { watchDataDirSpace } from './disk-warning';

/**
 * Runs the embedded broker alone, or manages its SASL users.
 *
 * --host is the listen address (default 127.0.0.1); --advertised-host/--advertised-port are what
 *   Metadata and FindCoordinator tell clients (default: the listen address and bound port; a
 *   wildcard listen address advertises os.hostname() instead, and says so).
 * --socket-request-max-bytes (Kafka socket.request.max.bytes, default 104857600): a request whose
 *   size prefix is larger closes the connection before anything is buffered.
 * --message-max-bytes (Kafka message.max.bytes, default 8388608): max.message.bytes of topics
 *   that do not set their own; a larger batch is refused with MESSAGE_TOO_LARGE (10).
 * --offsets-retention-minutes (Kafka offsets.retention.minutes, default 10080 = 7 days): an
 *   EMPTY group's committed offsets expire that long after its last commit, and the group goes.
 * --tls-cert/--tls-key (PEM) make the listener TLS; --tls-ca verifies client certificates when
 *   --tls-client-auth is requested or required (default none).
 * --sasl-credentials FILE turns SASL on (users from FILE, see `add-user`); --sasl-mechanisms
 *   narrows PLAIN,SCRAM-SHA-256,SCRAM-SHA-512. There is no default user.
 * --fsync always (default): acks=-1 produces and offset commits are answered after a
 *   group-committed fdatasync; interval: background fsync every --fsync-interval-ms;
 *   never: the OS flushes. Every policy survives kill -9 of the broker (writes are in the page
 *   cache before the answer); only 'always' also survives power loss for acks=-1 data.
 * Prints `embedded-kafka listening on HOST:PORT (advertised as AHOST:APORT)` once ready (the
 * launcher reads the word after "on"); SIGINT/SIGTERM stop it cleanly.
 *
 * add-user writes (or replaces) a user's SCRAM-SHA-256 and SCRAM-SHA-512 credentials, which also
 * serve PLAIN, reading the password from stdin (first line; not echoed on a terminal) so it never
 * appears in a process list or shell history. The broker picks up changes without a restart.
 */
const USAGE = `usage: npm run broker -- --port N --data-dir DIR [--host H] [--advertised-host H] [--advertised-port N]
         [--partitions N] [--no-auto-create] [--offsets-retention-minutes M]
         [--socket-request-max-bytes N] [--message-max-bytes N]
         [--tls-cert FILE --tls-key FILE [--tls-ca FILE] [--tls-client-auth none|requested|required]]
         [--sasl-credentials FILE [--sasl-mechanisms PLAIN,SCRAM-SHA-256,SCRAM-SHA-512]]
         [--fsync always|interval|never] [--fsync-interval-ms MS] [--verbose]
       npm run broker -- add-user --credentials FILE --user NAME [--iterations N]   (password on stdin)
       npm run broker -- remove-user --credentials FILE --user NAME`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

function int(flag: string, v: string | undefined, min: number, max: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) fail(`${flag} needs an integer in ${min}..${max}, got '${v ?? ''}'`);
  return Number(v);
}

function value(flag: string, v: string | undefined, what: string): string {
  if (v === undefined || v === '') fail(`${flag} needs ${what}`);
  return v;
}

function parseBrokerArgs(argv: string[]): EmbeddedKafkaOptions {
  let dataDir: string | undefined;
  const o: { -readonly [K in keyof EmbeddedKafkaOptions]?: EmbeddedKafkaOptions[K] } = { host: '127.0.0.1', port: 0, fsync: 'always', fsyncIntervalMs: 1000, logLevel: 'warn' };
  const tls: { certFile?: string; keyFile?: string; caFile?: string; clientAuth?: 'none' | 'requested' | 'required' } = {};
  let credentials: string | undefined;
  let mechanisms: SaslMechanism[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--port':
        o.port = int(f, argv[++i], 0, 65535);
        break;
      case '--data-dir':
        dataDir = value(f, argv[++i], 'a directory');
        break;
      case '--host':
        o.host = value(f, argv[++i], 'an address');
        break;
      case '--advertised-host':
        o.advertisedHost = value(f, argv[++i], 'a host name or address');
        break;
      case '--advertised-port':
        o.advertisedPort = int(f, argv[++i], 1, 65535);
        break;
      case '--partitions':
        o.numPartitions = int(f, argv[++i], 1, 10000);
        break;
      case '--no-auto-create':
        o.autoCreateTopics = false;
        break;
      case '--offsets-retention-minutes':
        o.offsetsRetentionMs = int(f, argv[++i], 1, 52_560_000) * 60_000;
        break;
      case '--socket-request-max-bytes':
        o.maxFrameBytes = int(f, argv[++i], 1024, 0x7fffffff);
        break;
      case '--message-max-bytes':
        o.messageMaxBytes = int(f, argv[++i], 0, 0x7fffffff);
        break;
      case '--tls-cert':
        tls.certFile = value(f, argv[++i], 'a PEM certificate file');
        break;
      case '--tls-key':
        tls.keyFile = value(f, argv[++i], 'a PEM private key file');
        break;
      case '--tls-ca':
        tls.caFile = value(f, argv[++i], 'a PEM CA file');
        break;
      case '--tls-client-auth': {
        const v = argv[++i];
        if (v !== 'none' && v !== 'requested' && v !== 'required') fail(`--tls-client-auth must be none, requested or required, got '${v ?? ''}'`);
        tls.clientAuth = v;
        break;
      }
      case '--sasl-credentials':
        credentials = value(f, argv[++i], 'a credentials file (see add-user)');
        break;
      case '--sasl-mechanisms': {
        const list = value(f, argv[++i], `a comma-separated list of ${SASL_MECHANISMS.join(', ')}`).split(',');
        for (const m of list) if (!SASL_MECHANISMS.includes(m as SaslMechanism)) fail(`--sasl-mechanisms: unknown mechanism '${m}' (supported: ${SASL_MECHANISMS.join(', ')})`);
        mechanisms = list as SaslMechanism[];
        break;
      }
      case '--fsync': {
        const v = argv[++i];
        if (v !== 'always' && v !== 'interval' && v !== 'never') fail(`--fsync must be always, interval or never, got '${v ?? ''}'`);
        o.fsync = v as FsyncPolicy;
        break;
      }
      case '--fsync-interval-ms':
        o.fsyncIntervalMs = int(f, argv[++i], 1, 3_600_000);
        break;
      case '--verbose':
        o.logLevel = 'info';
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
  if (!dataDir) fail('--data-dir is required');
  if (tls.certFile || tls.keyFile || tls.caFile || tls.clientAuth) {
    if (!tls.certFile || !tls.keyFile) fail('--tls-cert and --tls-key go together');
    o.tls = { certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile, clientAuth: tls.clientAuth };
  }
  if (mechanisms && !credentials) fail('--sasl-mechanisms needs --sasl-credentials');
  if (credentials) o.sasl = { credentialsFile: credentials, mechanisms };
  return { ...o, dataDir };
}

async function runBroker(argv: string[]): Promise<void> {
  const options = parseBrokerArgs(argv);
  const kafka = await startEmbeddedKafka(options);
  if (options.dataDir) watchDataDirSpace(options.dataDir, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`embedded-kafka listening on ${kafka.listening} (advertised as ${kafka.brokers[0]})${kafka.securityProtocol === 'PLAINTEXT' ? '' : ` ${kafka.securityProtocol}`}\n`);
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

function parseUserArgs(argv: string[], withIterations: boolean): { file: string; user: string; iterations?: number } {
  let file: string | undefined;
  let user: string | undefined;
  let iterations: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === '--credentials') file = value(f, argv[++i], 'a credentials file');
    else if (f === '--user') user = value(f, argv[++i], 'a user name');
    else if (f === '--iterations' && withIterations) iterations = int(f, argv[++i], 4096, 10_000_000);
    else fail(`unknown argument '${f}'`);
  }
  if (!file || !user) fail('--credentials FILE and --user NAME are required');
  return { file, user, iterations };
}

/** The first line of stdin; on a terminal, prompted for and not echoed. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write('password: ');
    stdin.setRawMode(true);
    stdin.resume();
    return new Promise((resolve, reject) => {
      let pw = '';
      stdin.on('data', (d: Buffer) => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.setRawMode(false);
            stdin.pause();
            process.stderr.write('\n');
            return resolve(pw);
          }
          if (ch === '\u0003') return reject(new Error('interrupted'));
          if (ch === '\u007f') pw = pw.slice(0, -1);
          else pw += ch;
        }
      });
    });
  }
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'add-user') {
    const a = parseUserArgs(rest, true);
    const password = await readPassword();
    if (password === '') fail('add-user: empty password on stdin');
    addUser(a.file, a.user, password, a.iterations);
    process.stderr.write(`embedded-kafka: user '${a.user}' written to ${a.file} (SCRAM-SHA-256, SCRAM-SHA-512; PLAIN checked against them)\n`);
    return;
  }
  if (command === 'remove-user') {
    const a = parseUserArgs(rest, false);
    if (!removeUser(a.file, a.user)) {
      process.stderr.write(`embedded-kafka: no user '${a.user}' in ${a.file}\n`);
      process.exit(1);
    }
    process.stderr.write(`embedded-kafka: user '${a.user}' removed from ${a.file}\n`);
    return;
  }
  await runBroker(process.argv.slice(2));
}

main().catch((e) => {
  // Refusals (a locked data directory, bad options) are one clear line; faults keep their stack.
  const text = e instanceof EmbeddedKafkaError && e.code === 'VALIDATION' ? e.message : ((e as Error).stack ?? String(e));
  process.stderr.write(`embedded-kafka: ${text}\n`);
  process.exit(1);
});
