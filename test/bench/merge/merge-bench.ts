/*
 * Merge and restore benchmark: builds a block database, a full save and 8 deltas of 1 % changed
 * blocks each, then (1) merges all nine into a new full save and (2) restores the same chain
 * (restore delta: full, then the k-way merge of the deltas) into a new database, and compares each
 * rate with `cp` of the full save (the same number of bytes) measured in the same run. Merge and
 * restore run in child processes so their peak RSS is their own.
 *
 *   node infra/launcher/bin/run-ts.js test/bench/merge/merge-bench.ts          # 256 MiB and 1 GiB
 *   BENCH_DB_MIB=64 node infra/launcher/bin/run-ts.js test/bench/merge/merge-bench.ts   # one size
 *   BENCH_PROFILE=/tmp/prof ...   # a V8 CPU profile of every merge and restore child (.cpuprofile)
 *   BENCH_RUNS=3 ...              # runs per figure (medians reported)
 *   BENCH_IO=async ...            # reads and writes on libuv's thread pool instead of blocking preads/pwrites (the default)
 *   BENCH_KEEP=dir ...            # build the chain into dir once and keep it (later runs reuse it)
 *   BENCH_SETTLE=3 ...            # seconds of quiet after `sync` before each timed operation (see settle())
 *
 * Goals: merge and restore each ≥ 50 % of cp throughput; peak RSS the same for 256 MiB and 1 GiB.
 * The restore's rate is the restored database's size over its time (including its fsyncs); the
 * merge's is its output's size over its time (no fsync, like cp).
 */
import { record } from '../report';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { Geometry } from '@deltaflow/blocks';
import { mergeDataSets, restoreDelta } from '@deltaflow/merge';
import type { BlockAddress } from '@deltaflow/blocks';
import { deltaBlocks } from '@deltaflow/dlog';
import { writeSaveFromDatabase } from '@deltaflow/save-format';

const MiB = 1 << 20;
const DELTAS = 8;
const CHANGED = 0.01;

/**
 * Before every timed operation: `sync`, then BENCH_SETTLE seconds (default 3) of quiet. On the
 * project's VMs (virtio-balloon with free page reporting) memory freed by deleting the previous
 * run's output goes back to the host after a second or two, and page-cache writes into it are
 * 2-5x slower than into memory freed a moment ago: cp run right after an rm measured 2.3 GB/s,
 * 3 s later 0.4-1 GB/s. Every operation, the cp ceiling included, starts from that same state.
 */
export function settle(): void {
  spawnSync('sync');
  const secs = Number(process.env.BENCH_SETTLE ?? 3);
  if (secs > 0) spawnSync('sleep', [String(secs)]);
}

/** BENCH_IO=async runs the data path on libuv's thread pool instead of blocking preads/pwrites (the default). */
const ioMode = (): 'sync' | 'async' => (process.env.BENCH_IO === 'async' ? 'async' : 'sync');

async function child(inputs: string[], output: string): Promise<void> {
  const baseKiB = process.resourceUsage().maxRSS; // node + transpiler, before the merge
  const t0 = process.hrtime.bigint();
  const r = await mergeDataSets({ inputs, output, writer: { fsync: false, io: ioMode() }, reader: { io: ioMode() } });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(
    JSON.stringify({ secs, bytes: r.output.bytes, maxRssKiB: process.resourceUsage().maxRSS, baseKiB, dsid: r.dsid }) + '\n',
  );
}

async function restoreChild(inputs: string[], target: string): Promise<void> {
  const baseKiB = process.resourceUsage().maxRSS;
  const t0 = process.hrtime.bigint();
  const r = await restoreDelta({ inputs, target, reader: { io: ioMode() } });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ secs, blocks: r.blocksWritten, maxRssKiB: process.resourceUsage().maxRSS, baseKiB }) + '\n');
}

export function geometryFor(mib: number): Geometry {
  const assoBlocks = Math.max(64, (mib * MiB) / 8 / 4096);
  const dataBlocks = ((mib * MiB) * 7) / 8 / 8192;
  return {
    asso: { blockSize: 4096, blocks: assoBlocks },
    data: { blockSize: 8192, blocks: dataBlocks },
    maxFiles: 8,
    files: [
      {
        file: 1,
        extents: [
          { part: 'DATA', from: 1, to: dataBlocks },
          { part: 'AC', from: 19, to: 18 + Math.floor((assoBlocks - 18) / 4) },
          { part: 'INDEX', from: 19 + Math.floor((assoBlocks - 18) / 4), to: assoBlocks },
        ],
      },
    ],
  };
}

async function runSize(mib: number, root: string): Promise<Record<string, string | number>> {
  const keep = process.env.BENCH_KEEP;
  const dir = keep ? path.join(keep, `merge-bench-${mib}`) : fs.mkdtempSync(path.join(root, `merge-bench-${mib}-`));
  const built = path.join(dir, 'inputs.json');
  try {
    const g = geometryFor(mib);
    const t0 = Date.now();
    const inputs = keep && fs.existsSync(built) ? (JSON.parse(fs.readFileSync(built, 'utf8')) as string[]) : await build(dir, g);
    if (keep) fs.writeFileSync(built, JSON.stringify(inputs));
    const buildSecs = (Date.now() - t0) / 1000;
    return await measure(mib, dir, g, inputs, buildSecs);
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds the database, its full save and the deltas in `dir`; returns the input paths. */
export async function build(dir: string, g: Geometry): Promise<string[]> {
  fs.rmSync(dir, { recursive: true, force: true });
  const db = BlockDatabase.create(path.join(dir, 'db'), { dbid: 1, geometry: g });
  const chunk = crypto.randomBytes(4 * MiB);
  for (const [area, blocks, bs] of [
    ['ASSO', g.asso.blocks, g.asso.blockSize],
    ['DATA', g.data.blocks, g.data.blockSize],
  ] as const) {
    const per = (4 * MiB) / bs;
    for (let r = 1; r <= blocks; r += per) {
      chunk.writeUInt32LE(r, 0); // vary contents a little between chunks
      db.writeBlocks(area, r, chunk.subarray(0, Math.min(per, blocks - r + 1) * bs));
    }
  }
  const ts = 1_800_000_000_000;
  const meta = (from: number, i: number) => ({
    dsid: { full: 1, deltaFrom: from, deltaTo: from, timestamp: ts + i * 1000, lineage: 'BENCH' },
    online: false,
    startLsn: i,
    endLsn: i,
  });
  const inputs = [path.join(dir, 'full')];
  await writeSaveFromDatabase(db, inputs[0], { ...meta(0, 0), kind: 'full' }, undefined, { fsync: false });
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const img = Buffer.alloc(g.data.blockSize, 0xab);
  for (let d = 1; d <= DELTAS; d++) {
    const changed: BlockAddress[] = [];
    const n = Math.round(g.data.blocks * CHANGED);
    for (let i = 0; i < n; i++) {
      const rabn = 1 + Math.floor(rnd() * g.data.blocks);
      img.writeUInt32LE(d * 1e6 + i, 0);
      db.writeBlock('DATA', rabn, img);
      changed.push({ area: 'DATA', rabn });
    }
    const file = path.join(dir, `delta${d}`);
    await writeSaveFromDatabase(db, file, { ...meta(d, d), kind: 'delta' }, deltaBlocks(db.geometry, changed), { fsync: false });
    inputs.push(file);
  }
  db.close();
  return inputs;
}

async function measure(mib: number, dir: string, g: Geometry, inputs: string[], buildSecs: number): Promise<Record<string, string | number>> {
  // Alternate merge and cp RUNS times, each after `sync` so neither pays for the other's dirty
  // pages; report medians (the machine is shared, single runs are noisy).
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
  const prof = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const merges: Array<{ secs: number; bytes: number; maxRssKiB: number; baseKiB: number }> = [];
  const restores: Array<{ secs: number; maxRssKiB: number; baseKiB: number }> = [];
  const dbBytes = g.asso.blocks * g.asso.blockSize + g.data.blocks * g.data.blockSize;
  const cps: number[] = [];
  const cats: number[] = [];
  const cpSyncs: number[] = [];
  let cpBytes = 0;
  for (let i = 0; i < runs; i++) {
    const out = path.join(dir, 'merged');
    settle();
    const res = spawnSync(process.execPath, [...prof, path.resolve('infra/launcher/bin/run-ts.js'), __filename, '--child', out, ...inputs], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (res.status !== 0) throw new Error(`merge child failed: ${res.status}`);
    merges.push(JSON.parse(res.stdout.trim().split('\n').pop() as string));
    fs.rmSync(out);
    // The restore of the same chain into a new database.
    const target = path.join(dir, 'restored');
    settle();
    const rr = spawnSync(process.execPath, [...prof, path.resolve('infra/launcher/bin/run-ts.js'), __filename, '--restore-child', target, ...inputs], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (rr.status !== 0) throw new Error(`restore child failed: ${rr.status}`);
    restores.push(JSON.parse(rr.stdout.trim().split('\n').pop() as string));
    fs.rmSync(target, { recursive: true, force: true });
    // cp ceiling: the same number of bytes (the full save is as large as the output).
    const cpOut = path.join(dir, 'cp-copy');
    settle();
    const c0 = process.hrtime.bigint();
    const cp = spawnSync('cp', [inputs[0], cpOut]);
    cps.push(Number(process.hrtime.bigint() - c0) / 1e9);
    if (cp.status !== 0) throw new Error('cp failed');
    cpBytes = fs.statSync(cpOut).size;
    fs.rmSync(cpOut);
    // cp copies inside the kernel (copy_file_range); cat moves the bytes through user space like the merge.
    settle();
    const k0 = process.hrtime.bigint();
    const cat = spawnSync('sh', ['-c', 'cat "$1" > "$2"', 'sh', inputs[0], cpOut]);
    cats.push(Number(process.hrtime.bigint() - k0) / 1e9);
    if (cat.status !== 0) throw new Error('cat failed');
    fs.rmSync(cpOut);
    // The durable ceiling for the restore (which fsyncs what it wrote before it returns): cp, then
    // sync (which here has only that copy to flush).
    settle();
    const d0 = process.hrtime.bigint();
    const cps2 = spawnSync('sh', ['-c', 'cp "$1" "$2" && sync', 'sh', inputs[0], cpOut]);
    cpSyncs.push(Number(process.hrtime.bigint() - d0) / 1e9);
    if (cps2.status !== 0) throw new Error('cp + sync failed');
    fs.rmSync(cpOut);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const m = { secs: median(merges.map((x) => x.secs)), bytes: merges[0].bytes, maxRssKiB: Math.max(...merges.map((x) => x.maxRssKiB)), baseKiB: Math.min(...merges.map((x) => x.baseKiB)) };
  const r = { secs: median(restores.map((x) => x.secs)), maxRssKiB: Math.max(...restores.map((x) => x.maxRssKiB)) };
  const cpSecs = median(cps);
  const catSecs = median(cats);
  const mergeMBs = m.bytes / MiB / m.secs;
  const cpMBs = cpBytes / MiB / cpSecs;
  const cpSyncMBs = cpBytes / MiB / median(cpSyncs);
  return {
    dbMiB: mib,
    buildSecs: +buildSecs.toFixed(1),
    inputs: inputs.length,
    outputMiB: +(m.bytes / MiB).toFixed(1),
    mergeSecs: +m.secs.toFixed(2),
    mergeMBs: +mergeMBs.toFixed(1),
    cpMBs: +cpMBs.toFixed(1),
    catMBs: +(cpBytes / MiB / catSecs).toFixed(1),
    ratio: +(mergeMBs / cpMBs).toFixed(2),
    peakRssMiB: +(m.maxRssKiB / 1024).toFixed(1),
    rssBeforeMergeMiB: +(m.baseKiB / 1024).toFixed(1),
    restoreSecs: +r.secs.toFixed(2),
    restoreMBs: +(dbBytes / MiB / r.secs).toFixed(1),
    restoreRatio: +(dbBytes / MiB / r.secs / cpMBs).toFixed(2),
    cpSyncMBs: +cpSyncMBs.toFixed(1),
    restoreDurableRatio: +(dbBytes / MiB / r.secs / cpSyncMBs).toFixed(2),
    restorePeakRssMiB: +(r.maxRssKiB / 1024).toFixed(1),
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    await child(process.argv.slice(4), process.argv[3]);
    return;
  }
  if (process.argv[2] === '--restore-child') {
    await restoreChild(process.argv.slice(4), process.argv[3]);
    return;
  }
  const sizes = process.env.BENCH_DB_MIB ? [Number(process.env.BENCH_DB_MIB)] : [256, 1024];
  const root = process.env.BENCH_TMP ?? os.tmpdir();
  const rows = [];
  for (const s of sizes) {
    const row = await runSize(s, root);
    console.log(JSON.stringify(row));
    rows.push(row);
    record({ bench: 'merge', figure: `library merge, full + 8 deltas of 1 % (${row.dbMiB} MiB)`, value: Number(row.mergeMBs), unit: 'MB/s', ceiling: { name: 'cp', value: Number(row.cpMBs) }, goal: '>= 50 % of cp' });
    record({ bench: 'merge', figure: `library restore delta, full + 8 deltas of 1 % (${row.dbMiB} MiB)`, value: Number(row.restoreMBs), unit: 'MB/s', ceiling: { name: 'cp', value: Number(row.cpMBs) }, goal: '>= 50 % of cp' });
    record({ bench: 'merge', figure: `library restore delta vs a durable copy (${row.dbMiB} MiB)`, value: Number(row.restoreMBs), unit: 'MB/s', ceiling: { name: 'cp + sync', value: Number(row.cpSyncMBs) } });
    record({ bench: 'merge', figure: `merge peak RSS (${row.dbMiB} MiB)`, value: Number(row.peakRssMiB), unit: 'MiB', goal: 'flat in database size' });
    record({ bench: 'merge', figure: `restore peak RSS (${row.dbMiB} MiB)`, value: Number(row.restorePeakRssMiB), unit: 'MiB', goal: 'flat in database size' });
  }
  console.table(rows);
  for (const r of rows)
    console.log(
      `${r.dbMiB} MiB: merge ${r.mergeMBs} MB/s vs cp ${r.cpMBs} MB/s = ${Math.round(Number(r.ratio) * 100)} % (goal >= 50 %); cat ${r.catMBs} MB/s; peak RSS ${r.peakRssMiB} MiB (${r.rssBeforeMergeMiB} MiB before the merge started); ` +
        `restore ${r.restoreMBs} MB/s = ${Math.round(Number(r.restoreRatio) * 100)} % of cp (${r.restoreSecs} s; ${Math.round(Number(r.restoreDurableRatio) * 100)} % of cp + sync at ${r.cpSyncMBs} MB/s), peak RSS ${r.restorePeakRssMiB} MiB`,
    );
}

if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
