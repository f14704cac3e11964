import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * `npm run broker` as a real child process, so faults are real: kill -9 hits a process, not an
 * in-process stop. With `unreaped`, the broker's parent is a shell that execs `sleep` and never
 * calls wait(): a broker killed with -9 stays a zombie, as it does under a supervisor that
 * restarts before it reaps.
 */
export const ROOT = path.resolve(__dirname, '../..');
const RUN_TS = path.join(ROOT, 'infra/launcher/bin/run-ts.js');
const MAIN = 'infra/embedded-kafka/src/main.ts';

export interface BrokerProcess {
  /** Pid of the broker itself (not of the unreaped holder). */
  readonly pid: number;
  readonly port: number;
  /** The address line printed by the broker (`host:port`). */
  readonly listening: string;
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGKILL to the broker; resolves once it is dead (a zombie counts as dead). */
  kill9(): Promise<void>;
  /** SIGTERM; resolves with the exit code (null in unreaped mode, where the code is not ours to see). */
  stop(): Promise<number | null>;
  /** Ends the holder shell of an unreaped broker (its zombie is then reaped by init). */
  cleanup(): void;
}

export interface BrokerProcessOptions {
  readonly unreaped?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/** Starts a broker on `dataDir` with extra flags and waits for its "listening" line. */
export function startBrokerProcess(dataDir: string, args: string[] = [], opts: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  return new Promise((resolve, reject) => {
    const full = [RUN_TS, MAIN, '--port', '0', '--data-dir', dataDir, ...args];
    const child = opts.unreaped
      ? spawn('sh', ['-c', '"$0" "$@" & echo "broker-pid $!"; exec sleep 300', process.execPath, ...full], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } })
      : spawn(process.execPath, full, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let out = '';
    let err = '';
    let exited = false;
    let exitCode: number | null = null;
    const exitWaiters: (() => void)[] = [];
    child.once('exit', (code) => {
      exited = true;
      exitCode = code;
      for (const w of exitWaiters) w();
    });
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${err}`)), opts.timeoutMs ?? 30000);
    child.stderr!.on('data', (d) => (err += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code}: ${err}`));
    });
    let watch: NodeJS.Timeout | undefined;
    child.stdout!.on('data', (d) => {
      out += d;
      const early = opts.unreaped && !watch ? /broker-pid (\d+)/.exec(out) : null;
      if (early) {
        // the holder never exits; notice a broker that dies before it listens
        const brokerPid = Number(early[1]);
        watch = setInterval(() => {
          const st = processState(brokerPid);
          if (st !== 'Z' && st !== null) return;
          clearInterval(watch);
          clearTimeout(timer);
          child.kill('SIGKILL');
          reject(new Error(`broker exited before listening: ${err}`));
        }, 20);
      }
      const m = /embedded-kafka listening on (\S+):(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      clearInterval(watch);
      const pid = opts.unreaped ? Number(/broker-pid (\d+)/.exec(out)![1]) : child.pid!;
      const waitExit = () => new Promise<void>((r) => (exited ? r() : exitWaiters.push(r)));
      resolve({
        pid,
        port: Number(m[2]),
        listening: `${m[1]}:${m[2]}`,
        child,
        stdout: () => out,
        stderr: () => err,
        async kill9() {
          process.kill(pid, 'SIGKILL');
          if (!opts.unreaped) return waitExit();
          while (processState(pid) !== 'Z' && processState(pid) !== null) await new Promise((r) => setTimeout(r, 5));
        },
        async stop() {
          process.kill(pid, 'SIGTERM');
          if (!opts.unreaped) {
            await waitExit();
            return exitCode;
          }
          while (processState(pid) !== 'Z' && processState(pid) !== null) await new Promise((r) => setTimeout(r, 20));
          return null;
        },
        cleanup() {
          if (!exited) child.kill('SIGKILL');
        },
      });
    });
  });
}

/** Runs `npm run broker` expecting it to fail at start; resolves with its exit code and stderr. */
export function brokerProcessFails(dataDir: string, args: string[] = [], timeoutMs = 30000): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_TS, MAIN, '--port', '0', '--data-dir', dataDir, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker did not fail within ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: err, stdout: out });
    });
  });
}

/** The state letter of a process from /proc (R, S, Z, ...), or null when it no longer exists. */
export function processState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Runs `npm run broker -- <args>` to completion (add-user and the like), with `input` on stdin. */
export function runBrokerCli(args: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(process.execPath, [RUN_TS, MAIN, ...args], { cwd: ROOT, input, encoding: 'utf8', timeout: 30000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
