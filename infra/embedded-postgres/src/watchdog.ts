/**
 * A detached watchdog for an embedded PostgreSQL: when its owner process dies without
 * stopping the server (kill -9, a timeout's SIGKILL), the watchdog stops the postmaster
 * (SIGINT: fast shutdown, then SIGKILL after 10 s) and, if asked, removes the data directory
 * (test clusters). The owner kills the watchdog after a clean stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface WatchdogOptions {
  /** remove this directory once the server is gone (throw-away test clusters) */
  readonly removeDataDir?: string;
  /** how often the owner is checked (ms); default 500 */
  readonly pollMs?: number;
}

export function startPostgresWatchdog(ownerPid: number, postmasterPid: number, opts: WatchdogOptions = {}): ChildProcess {
  const script = `
    const fs = require('node:fs');
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const [owner, pg, dataDir, poll] = [${ownerPid}, ${postmasterPid}, ${JSON.stringify(opts.removeDataDir ?? null)}, ${opts.pollMs ?? 500}];
    const timer = setInterval(() => {
      if (alive(owner)) return;
      clearInterval(timer);
      try { process.kill(pg, 'SIGINT'); } catch {}
      let waited = 0;
      const wait = setInterval(() => {
        waited += 200;
        if (alive(pg) && waited === 10000) { try { process.kill(pg, 'SIGKILL'); } catch {} }
        if (!alive(pg) || waited > 15000) {
          clearInterval(wait);
          if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
          process.exit(0);
        }
      }, 200);
    }, poll);
  `;
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}
