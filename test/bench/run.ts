/**
 * `npm run bench`: runs every benchmark (at a size that takes minutes, not hours) one after the
 * other and prints one table of figures, each next to its ceiling measured in the same run and
 * the ratio. Each benchmark still prints its own details as it goes.
 *
 *   npm run bench                      # every benchmark, quick sizes
 *   npm run bench -- merge streaming   # only those whose name contains a word
 *   BENCH_FULL=1 npm run bench         # the sizes the closing notes quote (1 GiB databases...)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ratioOf, type BenchFigure } from './report';

const ROOT = path.resolve(__dirname, '..', '..');
const full = process.env.BENCH_FULL === '1';

interface Bench {
  readonly name: string;
  readonly file: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

const BENCHES: Bench[] = [
  { name: 'broker', file: 'test/bench/broker/throughput.ts', args: full ? [] : ['--quick'], env: {} },
  { name: 'change-logger', file: 'test/bench/change-logger/ingest.ts', args: [full ? '100000' : '20000'], env: {} },
  { name: 'change-logger-retention', file: 'test/bench/change-logger/retention-groups.ts', args: [full ? '1000' : '300'], env: {} },
  { name: 'save', file: 'test/bench/save/full-vs-delta.ts', args: [], env: { DELTAFLOW_BENCH_DB_MIB: full ? '1024' : '256' } },
  { name: 'merge', file: 'test/bench/merge/merge-bench.ts', args: [], env: { BENCH_DB_MIB: full ? '1024' : '256', BENCH_RUNS: full ? '3' : '1' } },
  { name: 'merge-service', file: 'test/bench/merge/service-bench.ts', args: [], env: { BENCH_DB_MIB: full ? '1024' : '256', BENCH_RUNS: full ? '3' : '1' } },
  { name: 'streaming', file: 'test/bench/streaming/scan.ts', args: [], env: { DELTAFLOW_BENCH_SCAN_MIB: full ? '256,1024,4096' : '256', DELTAFLOW_BENCH_CODEC_MIB: full ? '64' : '16' } },
  { name: 'streaming-throughput', file: 'test/bench/streaming/throughput.ts', args: [], env: { DELTAFLOW_BENCH_STREAM_MIB: full ? '2048' : '512', DELTAFLOW_BENCH_LEVER_MIB: full ? '512' : '128' } },
  { name: 'streaming-save', file: 'test/bench/streaming/save.ts', args: [], env: { DELTAFLOW_BENCH_DB_MIB: full ? '2048' : '512' } },
  { name: 'streaming-restore', file: 'test/bench/streaming/restore.ts', args: [], env: { DELTAFLOW_BENCH_RESTORE_MIB: full ? '128' : '64', DELTAFLOW_BENCH_SAMPLE_MIB: full ? '1024' : '256' } },
  { name: 'catalog', file: 'test/bench/catalog/replay.ts', args: [full ? '200000' : '50000'], env: {} },
  { name: 'streaming-utilisation', file: 'test/bench/streaming/utilisation.ts', args: [], env: { DELTAFLOW_BENCH_UTIL_SECONDS: full ? '20' : '10' } },
];

function main(): void {
  const only = process.argv.slice(2);
  const chosen = BENCHES.filter((b) => only.length === 0 || only.some((w) => b.name.includes(w)));
  if (chosen.length === 0) {
    console.error(`no benchmark matches ${only.join(' ')}; there are: ${BENCHES.map((b) => b.name).join(', ')}`);
    process.exit(2);
  }
  const results = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-')), 'results.jsonl');
  fs.writeFileSync(results, '');
  const failed: string[] = [];
  for (const b of chosen) {
    console.log(`\n### ${b.name}: node infra/launcher/bin/run-ts.js ${b.file} ${b.args.join(' ')}`);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'infra/launcher/bin/run-ts.js'), b.file, ...b.args], {
      cwd: ROOT,
      env: { ...process.env, ...b.env, BENCH_RESULTS: results },
      stdio: 'inherit',
    });
    if (r.status !== 0) failed.push(b.name);
  }
  const figures = fs
    .readFileSync(results, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as BenchFigure);
  const rows = figures.map((f) => {
    const ratio = ratioOf(f);
    return [f.bench, f.figure, `${fmt(f.value)} ${f.unit}`, f.ceiling ? `${f.ceiling.name} ${fmt(f.ceiling.value)} ${f.unit}` : '-', ratio === undefined ? '-' : ratio.toFixed(2), f.goal ?? ''];
  });
  const head = ['bench', 'figure', 'value', 'ceiling (same run)', 'ratio', 'goal'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join(' | ');
  console.log(`\n## Deltaflow benchmarks (${os.cpus().length} cores, node ${process.version}, ${full ? 'full' : 'quick'} sizes, ${new Date().toISOString()})`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
  if (failed.length > 0) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exit(1);
  }
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? Math.round(v).toString() : v.toFixed(2);
}

main();
