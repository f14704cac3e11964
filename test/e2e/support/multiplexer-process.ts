/**
 * A stream multiplexer as its own OS process (so a test can kill -9 it), started as `npm start`
 * starts it, with the test's environment on top; resolves once it says it is ready. Everything it
 * prints goes to `onOutput` (the tests read its log lines).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

export function startMultiplexerProcess(env: NodeJS.ProcessEnv, onOutput: (text: string) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(ROOT, 'infra/launcher/bin/run-ts.js'), 'apps/stream-multiplexer/src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, STREAM_MULTIPLEXER_HTTP_PORT: '0', DELTAFLOW_LOG_LEVEL: 'log', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let recent = '';
    const take = (d: Buffer) => {
      const text = d.toString();
      onOutput(text);
      recent = (recent + text).slice(-8000);
    };
    const early = (code: number | null, signal: NodeJS.Signals | null) => reject(new Error(`multiplexer exited (${code ?? signal}) before it was ready:\n${recent.slice(-3000)}`));
    const untilReady = (d: Buffer) => {
      take(d);
      if (/stream-multiplexer ready/.test(recent)) {
        c.stdout!.off('data', untilReady);
        c.stdout!.on('data', take);
        c.off('exit', early);
        resolve(c);
      }
    };
    c.stdout!.on('data', untilReady);
    c.stderr!.on('data', take);
    c.once('exit', early);
  });
}
