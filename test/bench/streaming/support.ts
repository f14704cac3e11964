/** Shared by the streaming benchmarks: a broker process, the multiplexer in-process, data files, cp ceilings. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');
export const MiB = 1 << 20;
export const secondsSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/**
 * The embedded broker as its own process (as `npm run broker`), fsync policy from BENCH_FSYNC
 * (default always). BENCH_BROKER_PROF=DIR: the broker writes a CPU profile there (node --cpu-prof).
 */
export function startBroker(dataDir: string, fsync = process.env.BENCH_FSYNC ?? 'always'): Promise<{ child: ChildProcess; brokers: string[]; stop(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const prof = process.env.BENCH_BROKER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_BROKER_PROF}`] : [];
    const child = spawn(process.execPath, [...prof, path.join(ROOT, 'infra/launcher/bin/run-ts.js'), 'infra/embedded-kafka/src/main.ts', '--port', '0', '--data-dir', dataDir, '--fsync', fsync], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m)
        resolve({
          child,
          brokers: [`127.0.0.1:${m[1]}`],
          stop: async () => {
            child.kill('SIGTERM');
            await new Promise((r) => child.once('exit', r));
          },
        });
    });
    child.once('exit', (c) => reject(new Error(`broker exited ${c}`)));
  });
}

/** CPU seconds (user + system) a process used so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** A file of `bytes` incompressible bytes (a random 64 MiB pattern, each copy shifted). */
export function dataFile(file: string, bytes: number): void {
  if (fs.existsSync(file) && fs.statSync(file).size === bytes) return;
  const pattern = randomBytes(64 * MiB + 4096);
  const fd = fs.openSync(file, 'w');
  for (let off = 0, i = 0; off < bytes; off += 64 * MiB, i++) fs.writeSync(fd, pattern, (i * 4099) % 4096, Math.min(64 * MiB, bytes - off));
  fs.closeSync(fd);
}

/** Seconds `cp src dst` takes (and with a sync after it). */
export function cpSeconds(src: string, dst: string, sync: boolean): number {
  fs.rmSync(dst, { force: true });
  spawnSync('sync');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', sync ? `cp "${src}" "${dst}" && sync` : `cp "${src}" "${dst}"`]);
  const s = secondsSince(t0);
  if (r.status !== 0) throw new Error(`cp failed: ${r.stderr}`);
  fs.rmSync(dst, { force: true });
  return s;
}

/**
 * `cp` and `cp` + `sync` of `src`, three times each, alternating, and the median of each in
 * seconds: on this machine the first `cp` after a large write is often several times slower.
 */
export function cpCeilings(src: string, dst: string): { cp: number; cpSync: number; cps: number[]; cpSyncs: number[] } {
  const cps: number[] = [];
  const cpSyncs: number[] = [];
  for (let i = 0; i < 3; i++) {
    cps.push(cpSeconds(src, dst, false));
    cpSyncs.push(cpSeconds(src, dst, true));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
  return { cp: median(cps), cpSync: median(cpSyncs), cps, cpSyncs };
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((v, i) => (v ?? '').padEnd(widths[i])).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
