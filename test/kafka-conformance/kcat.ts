import { execFile, spawnSync } from 'node:child_process';

/** kcat (librdkafka) as a test client; suites using it are skipped when it is not installed. */
export const hasKcat = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
if (!hasKcat) console.warn('kcat not on PATH: kcat suites skipped (apt-get install kcat)');
export const describeKcat = hasKcat ? describe : describe.skip;

/** Runs kcat and resolves with its stdout (rejects with stderr on a non-zero exit). */
export function kcat(args: string[], input?: string, timeoutMs = 30000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile('kcat', args, { timeout: timeoutMs }, (err, stdout, stderr) => (err ? reject(new Error(`kcat ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout)));
    if (input !== undefined) p.stdin!.end(input);
  });
}

/** Runs kcat expecting failure; resolves with exit code, stdout and stderr. */
export function kcatResult(args: string[], input?: string, timeoutMs = 30000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile('kcat', args, { timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code?: unknown }).code as number) : null) : 0, stdout, stderr }),
    );
    if (input !== undefined) p.stdin!.end(input);
    else p.stdin!.end();
  });
}
