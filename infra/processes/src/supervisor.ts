/**
 * Keeps a child process running: when it exits unexpectedly (a crash, kill -9), it is started
 * again after a backoff that doubles from `initialBackoffMs` to `maxBackoffMs`, and reset once
 * a run lasted `stableMs`. After `maxCrashes` crashes within `windowMs` it gives up and says
 * so (a service that cannot start is a configuration or a bug to look at, not to hammer).
 * What `npm start` does for every service; a deployment leaves this to its orchestrator.
 */
import type { Child } from './processes';

export interface SupervisorOptions {
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  stableMs?: number;
  maxCrashes?: number;
  windowMs?: number;
  log?: (m: string) => void;
  now?: () => number;
}

export interface Supervised {
  /** the child running now */
  current(): Child;
  /** how many times it was restarted */
  restarts(): number;
  /** resolves when the supervisor gave up (never when stopped) */
  readonly gaveUp: Promise<void>;
  /** stop supervising, then stop the child with `stopChild` */
  stop(stopChild: (c: Child) => Promise<void>): Promise<void>;
}

/** Restart delays: double from initial to max; a stable run starts over. Pure, for tests. */
export function nextBackoff(previousMs: number | undefined, ranMs: number, o: Required<Pick<SupervisorOptions, 'initialBackoffMs' | 'maxBackoffMs' | 'stableMs'>>): number {
  if (previousMs === undefined || ranMs >= o.stableMs) return o.initialBackoffMs;
  return Math.min(o.maxBackoffMs, previousMs * 2);
}

export function supervise(name: string, start: () => Child, opts: SupervisorOptions = {}): Supervised {
  const o = { initialBackoffMs: 1000, maxBackoffMs: 30_000, stableMs: 60_000, maxCrashes: 5, windowMs: 300_000, log: (m: string) => console.error(m), now: Date.now, ...opts };
  let child = start();
  let startedAt = o.now();
  let restarts = 0;
  let stopped = false;
  let backoff: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  const crashes: number[] = [];
  let giveUp!: () => void;
  const gaveUp = new Promise<void>((r) => (giveUp = r));

  const watch = (c: Child) => {
    void c.exited.then((code) => {
      if (stopped || c !== child) return;
      const now = o.now();
      crashes.push(now);
      while (crashes.length && crashes[0] < now - o.windowMs) crashes.shift();
      if (crashes.length >= o.maxCrashes) {
        o.log(`deltaflow: ${name} exited (code ${code}) ${crashes.length} times within ${Math.round(o.windowMs / 1000)} s: not restarted again; the others keep running (see its output above)`);
        giveUp();
        return;
      }
      backoff = nextBackoff(backoff, now - startedAt, o);
      o.log(`deltaflow: ${name} exited unexpectedly (code ${code}); restarting in ${backoff} ms`);
      timer = setTimeout(() => {
        if (stopped) return;
        restarts++;
        child = start();
        startedAt = o.now();
        void child.ready.then(
          () => o.log(`deltaflow: ${name} restarted (pid ${child.proc.pid})`),
          () => undefined, // its exit is watched
        );
        watch(child);
      }, backoff);
    });
  };
  watch(child);

  return {
    current: () => child,
    restarts: () => restarts,
    gaveUp,
    async stop(stopChild) {
      stopped = true;
      if (timer) clearTimeout(timer);
      await stopChild(child);
    },
  };
}
