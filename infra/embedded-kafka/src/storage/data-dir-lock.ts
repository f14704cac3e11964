import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ValidationError } from '../errors';

/**
 * One broker per data directory, held by a lock the KERNEL releases when the holder dies.
 *
 * Kafka takes an exclusive file lock on `<log.dir>/.lock`; Node has no flock/fcntl and a native
 * addon is not wanted. On Linux the lock is instead an abstract-namespace Unix socket (a name
 * beginning with NUL, no file behind it) derived from the data directory's real path. Only one
 * socket can be bound to a name, and the kernel unbinds it when the last descriptor closes, which
 * happens while the process exits, before it becomes a zombie. So a broker restarted the instant
 * its predecessor was killed with -9 gets the lock, even while the killed process is an unreaped
 * zombie; a pid file cannot tell that zombie from a live broker (kill(pid, 0) succeeds on both).
 *
 * `<dataDir>/broker.lock` still records the holder's pid, for people and for the refusal message;
 * it is written after the socket is bound and is never what decides.
 *
 * Limits: abstract sockets are per network namespace, so two containers sharing one volume are
 * not kept apart (nor are two hosts on shared storage, as with most file locks). On platforms
 * without abstract sockets (not Linux) the pid-file check below is used, which cannot see through
 * zombies; the broker is deployed on Linux.
 */
export interface DataDirLock {
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

const PID_FILE = 'broker.lock';

/** The abstract socket name for a data directory (exported for tests and diagnostics). */
export function lockNameFor(realDir: string): string {
  const digest = createHash('sha256').update(realDir).digest('hex').slice(0, 40);
  return `\0deltaflow-embedded-kafka/${digest}`;
}

/** Takes the data-directory lock or throws ValidationError naming the holder's pid. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const real = fs.realpathSync(dataDir);
  const pidFile = path.join(real, PID_FILE);
  if (process.platform !== 'linux') return lockWithPidFile(dataDir, pidFile);
  const server = net.createServer((s) => s.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(lockNameFor(real), () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw inUse(dataDir, readPid(pidFile));
    throw e;
  }
  server.unref(); // the lock never keeps a process alive on its own
  fs.writeFileSync(pidFile, `${process.pid}\n`);
  let released: Promise<void> | null = null;
  return {
    release() {
      released ??= new Promise<void>((resolve) => {
        if (readPid(pidFile) === process.pid) fs.rmSync(pidFile, { force: true });
        server.close(() => resolve());
      });
      return released;
    },
  };
}

function inUse(dataDir: string, owner: number | null): ValidationError {
  const who = owner === null ? 'pid unknown' : `pid ${owner}${owner === process.pid ? ', this process' : ''}`;
  return new ValidationError(`data directory ${dataDir} is in use by another broker (${who})`);
}

function readPid(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Fallback without abstract sockets: the pid file, taken over when its pid no longer exists. */
function lockWithPidFile(dataDir: string, file: string): DataDirLock {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      let done = false;
      return {
        release() {
          if (!done) fs.rmSync(file, { force: true });
          done = true;
          return Promise.resolve();
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = readPid(file);
      if (owner !== null && isAlive(owner)) throw inUse(dataDir, owner);
      fs.rmSync(file, { force: true });
    }
  }
  throw new ValidationError(`could not lock data directory ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
