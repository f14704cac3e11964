import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDbError } from './errors';

/**
 * An exclusive lock on a database directory, taken by every Deltaflow writer that must not share
 * it (a restore, a shadow apply, a REGENERATE), so no other update touches the database meanwhile.
 *
 * How: Node has no flock() without a native addon, so the lock is held by a small child process,
 * `flock --nonblock <dir>/deltaflow.lock sh -c 'echo locked; exec cat'`, whose standard input is a
 * pipe from this process. flock(2) locks belong to the open file and the kernel releases them when
 * the last holder exits; `cat` exits when the pipe closes, which the kernel does when this process
 * ends in any way (exit, crash, SIGKILL). So a lock is never left behind by a dead process, there
 * is no pid to check and no stale lock to take over, and it also holds between containers sharing
 * the volume (and across hosts on NFS, where Linux maps flock to byte-range locks).
 *
 * Where flock(1) (util-linux) is not installed, a `wx` lock file holding {pid, start time, host}
 * is used instead; a lock file whose process is gone (same host, pid missing or started at
 * another time) is stale and taken over. Both kinds use the same file name, but they do not see
 * each other: all writers of a database must run where the same kind is available.
 */
export const LOCK_FILE = 'deltaflow.lock';
/** The lock file of the fallback (a different name, so an empty flock file is never taken for a held pid lock). */
export const PID_LOCK_FILE = 'deltaflow.lock.pid';

export interface DatabaseLock {
  readonly kind: 'flock' | 'pidfile';
  readonly file: string;
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/** Takes the lock of `dir` (created if missing) without waiting; LOCKED when another holder has it. */
export async function lockDatabase(dir: string, purpose = 'an update'): Promise<DatabaseLock> {
  fs.mkdirSync(dir, { recursive: true });
  const viaFlock = process.env.DELTAFLOW_LOCK === 'pidfile' ? null : await tryFlock(path.join(dir, LOCK_FILE), purpose);
  return viaFlock ?? pidFileLock(path.join(dir, PID_LOCK_FILE), purpose);
}

/** flock(1) holding the lock; null when flock(1) is not installed. */
function tryFlock(file: string, purpose: string): Promise<DatabaseLock | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--nonblock', '--conflict-exit-code', '75', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let settled = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      if (e.code === 'ENOENT') resolve(null);
      else reject(e);
    });
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      if (!settled && out.includes('locked')) {
        settled = true;
        let released = false;
        // A held lock never keeps this process alive; release() waits for the holder to be gone.
        child.unref();
        for (const s of [child.stdin, child.stdout, child.stderr] as any[]) s?.unref?.();
        resolve({
          kind: 'flock',
          file,
          release: async () => {
            if (released) return;
            released = true;
            child.ref();
            child.stdin.end();
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) => {
      if (settled) return;
      settled = true;
      if (code === 75) reject(new BlockDbError('LOCKED', `${path.dirname(file)} is locked by another update; ${purpose} must wait for it`));
      else if (code === 127) resolve(null);
      else reject(new BlockDbError('VALIDATION', `flock ${file} failed (exit ${code}): ${err.trim()}`));
    });
  });
}

interface PidLockBody {
  readonly pid: number;
  readonly start: string | null;
  readonly host: string;
}

/** Start time of a process (field 22 of /proc/<pid>/stat), null where /proc is missing, undefined when the process is gone. */
function startTimeOf(pid: number): string | null | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch (e: any) {
    if (e?.code === 'ENOENT') {
      if (!fs.existsSync('/proc/self/stat')) {
        try {
          process.kill(pid, 0);
          return null;
        } catch (k: any) {
          return k?.code === 'EPERM' ? null : undefined;
        }
      }
      return undefined;
    }
    return null;
  }
}

function pidFileLock(file: string, purpose: string): DatabaseLock {
  const me: PidLockBody = { pid: process.pid, start: startTimeOf(process.pid) ?? null, host: os.hostname() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(me));
      fs.closeSync(fd);
      let released = false;
      return {
        kind: 'pidfile',
        file,
        release: async () => {
          if (released) return;
          released = true;
          fs.rmSync(file, { force: true });
        },
      };
    } catch (e: any) {
      if (e?.code !== 'EEXIST') throw e;
      let holder: PidLockBody | null = null;
      try {
        holder = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch {
        holder = null; // being written, or garbage: treated as held
      }
      const stale =
        holder !== null && holder.host === me.host && (startTimeOf(holder.pid) === undefined || (holder.start !== null && startTimeOf(holder.pid) !== holder.start));
      if (!stale) break;
      fs.rmSync(file, { force: true });
    }
  }
  throw new BlockDbError('LOCKED', `${path.dirname(file)} is locked by another update (${file}); ${purpose} must wait for it`);
}
