/** Child processes of the launcher: started with an IPC channel, stopped without orphans. */
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
const RUN_TS = path.join(ROOT, 'infra', 'launcher', 'bin', 'run-ts.js');

export interface Child {
  name: string;
  proc: ChildProcess;
  /** resolves with the first message the child sends with type 'ready', or the first stdout line matching */
  ready: Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Forks a TypeScript entry point; output lines are prefixed with the child's name. */
export function startChild(
  name: string,
  entry: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  readyLine?: RegExp,
  /** where the child's prefixed output goes (default: this process's stdout and stderr); a function gets each line */
  output?: (line: string) => void,
): Child {
  // Own process group: a Ctrl-C in the terminal reaches the launcher only, which then stops
  // the services before the broker they are talking to. Should the launcher die without
  // stopping them, the IPC channel closes and every child exits on 'disconnect'.
  const proc = fork(RUN_TS, [entry, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  let resolveReady!: (v: Record<string, unknown>) => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<Record<string, unknown>>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  const prefix = (stream: NodeJS.ReadableStream, out: NodeJS.WritableStream) => {
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (output) output(`[${name}] ${line}`);
        else out.write(`[${name}] ${line}\n`);
        const m = readyLine?.exec(line);
        if (m) resolveReady({ line, match: m.slice(1) });
      }
    });
  };
  prefix(proc.stdout!, process.stdout);
  prefix(proc.stderr!, process.stderr);
  proc.on('message', (msg: any) => {
    if (msg && msg.type === 'ready') resolveReady(msg);
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  void exited.then((code) => rejectReady(new Error(`${name} exited (code ${code}) before it was ready`)));
  return { name, proc, ready, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}
