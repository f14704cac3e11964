/*
 * Merge and restore through the merge engine service: the same chain as merge-bench.ts (a full
 * save and 8 deltas of 1 % changed blocks), put in a data directory; the merge engine runs as its
 * own process on the embedded broker; a MergeRequested (full + 8 deltas into a new full save) and
 * a RestoreRequested (the chain into a new database) are published and timed from the command to
 * its outcome event (so the figures include Kafka, input checks and the fsync of the output);
 * each next to `cp` (and `cp` + `sync`) of the same bytes in the same run. Medians of BENCH_RUNS.
 *
 *   BENCH_DB_MIB=1024 BENCH_RUNS=3 node infra/launcher/bin/run-ts.js test/bench/merge/service-bench.ts
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MessageOfType } from '@deltaflow/contracts';
import { startEmbeddedKafka } from '@deltaflow/embedded-kafka';
import { startChild, stopChild } from '@deltaflow/processes';
import { DsfDriver, Publisher, TopicCollector } from '@deltaflow/testing';
import { record } from '../report';
import { build, geometryFor, settle } from './merge-bench';

const MiB = 1 << 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  const mib = Number(process.env.BENCH_DB_MIB ?? 256);
  const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
  const root = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? os.tmpdir(), 'merge-service-bench-'));
  const dataDir = path.join(root, 'data');
  const sets = path.join(dataDir, 'datasets');
  const kafka = await startEmbeddedKafka({ dataDir: path.join(root, 'kafka'), fsync: 'never' });
  let engine: Awaited<ReturnType<typeof startChild>> | undefined;
  const pub = await new Publisher(kafka.brokers).start();
  const events = await new TopicCollector(kafka.brokers, 'dsf.events', ['OperationProgress']).start();
  const dsf = new DsfDriver(pub, events, 3_600_000);
  try {
    const g = geometryFor(mib);
    const t0 = Date.now();
    const built = await build(path.join(root, 'chain'), g);
    fs.mkdirSync(sets, { recursive: true });
    const names = built.map((f) => path.basename(f));
    for (const f of built) fs.renameSync(f, path.join(sets, path.basename(f)));
    console.log(`built a ${mib} MiB database, its full save and 8 deltas of 1 % in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    engine = startChild('merge-engine', 'apps/merge-engine/src/main.ts', [], { ...process.env, KAFKA_BROKERS: kafka.brokers.join(','), DELTAFLOW_DATA_DIR: dataDir, MERGE_ENGINE_HTTP_PORT: '0' }, undefined, () => undefined);
    await engine.ready;
    const fullBytes = fs.statSync(path.join(sets, names[0])).size;
    const dbBytes = g.asso.blocks * g.asso.blockSize + g.data.blocks * g.data.blockSize;
    const merges: number[] = [];
    const restores: number[] = [];
    const cps: number[] = [];
    const cpSyncs: number[] = [];
    for (let i = 0; i < runs; i++) {
      settle();
      let t = process.hrtime.bigint();
      const m = (await dsf.merge(1, `merged-${i}`, names, { full: true })) as MessageOfType<'MergeCompleted'>;
      if (m.type !== 'MergeCompleted') throw new Error(`merge: ${JSON.stringify(m)}`);
      merges.push(Number(process.hrtime.bigint() - t) / 1e9);
      fs.rmSync(path.join(sets, `merged-${i}`), { force: true });
      settle();
      t = process.hrtime.bigint();
      const r = await dsf.restore(1, `restored-${i}`, names);
      if (r.type !== 'RestoreCompleted') throw new Error(`restore: ${JSON.stringify(r)}`);
      restores.push(Number(process.hrtime.bigint() - t) / 1e9);
      fs.rmSync(path.join(dataDir, 'restores', `restored-${i}`), { recursive: true, force: true });
      settle();
      const out = path.join(root, 'cp-copy');
      cps.push(timed('cp', [path.join(sets, names[0]), out]));
      fs.rmSync(out, { force: true });
      settle();
      cpSyncs.push(timed('sh', ['-c', 'cp "$1" "$2" && sync', 'sh', path.join(sets, names[0]), out]));
      fs.rmSync(out, { force: true });
    }
    const cp = fullBytes / MiB / median(cps);
    const cpSync = fullBytes / MiB / median(cpSyncs);
    const merge = fullBytes / MiB / median(merges);
    const restore = dbBytes / MiB / median(restores);
    console.log(`${mib} MiB through the merge engine (medians of ${runs}, MiB/s): merge ${merge.toFixed(0)} = ${((merge / cp) * 100).toFixed(0)} % of cp (${cp.toFixed(0)}); restore ${restore.toFixed(0)} = ${((restore / cp) * 100).toFixed(0)} % of cp, ${((restore / cpSync) * 100).toFixed(0)} % of cp + sync (${cpSync.toFixed(0)})`);
    console.log(`  times (s): merge ${merges.map((x) => x.toFixed(2)).join(' ')}; restore ${restores.map((x) => x.toFixed(2)).join(' ')}; cp ${cps.map((x) => x.toFixed(2)).join(' ')}; cp+sync ${cpSyncs.map((x) => x.toFixed(2)).join(' ')}`);
    record({ bench: 'merge', figure: `service merge, full + 8 deltas of 1 % (${mib} MiB)`, value: merge, unit: 'MiB/s', ceiling: { name: 'cp', value: cp }, goal: '>= 50 % of cp' });
    record({ bench: 'merge', figure: `service restore, full + 8 deltas of 1 % (${mib} MiB)`, value: restore, unit: 'MiB/s', ceiling: { name: 'cp', value: cp }, goal: '>= 50 % of cp' });
  } finally {
    if (engine) await stopChild(engine);
    await events.stop();
    await pub.stop();
    await kafka.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
