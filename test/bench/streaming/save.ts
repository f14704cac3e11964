/**
 * A full save of a database to a directory and through a stream (issue 11's benchmark), each next
 * to `cp` and `cp` + `sync` of the same bytes (the database's DATA file) in the same run. The save
 * writer, the stream multiplexer and the broker run as their own processes, as deployed (broker
 * fsync always, as `npm run broker`; DELTAFLOW_BENCH_INPROCESS=1 runs the save writer and the
 * multiplexer in this process instead, on one JavaScript thread); the save is offline, so its data
 * set goes straight into its client file (no staging). CPU is that of every process involved. Each ceiling is measured three times, alternating, and the median taken: on
 * this machine the first `cp` after a large write is often several times slower than the next.
 *
 *   node infra/launcher/bin/run-ts.js test/bench/streaming/save.ts
 *
 * DELTAFLOW_BENCH_DB_MIB: the database's DATA (default 2048); DELTAFLOW_BENCH_DIR: where files go.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import type { MessageOfType } from '@deltaflow/contracts';
import { dataSetPath } from '@deltaflow/save-format';
import { SovClient } from '@deltaflow/service-kit';
import { Publisher, ServiceProcesses, StandInChangeLogger, TopicCollector } from '@deltaflow/testing';
import { startSaveWriter } from '../../../apps/save-writer/src/app';
import { multiplexerDefaults, startStreamMultiplexer } from '../../../apps/stream-multiplexer/src/app';
import { benchGeometry } from '../geometry';
import { record } from '../report';
import { cpCeilings, cpuSeconds, MiB, startBroker, table } from './support';

const MIB = Number(process.env.DELTAFLOW_BENCH_DB_MIB ?? 2048);
const BLOCK = 8192;
const DBID = 5;

async function main(): Promise<void> {
  const dataBlocks = Math.max(64, Math.floor((MIB * MiB) / BLOCK));
  const geometry = benchGeometry(dataBlocks, BLOCK);
  const root = fs.mkdtempSync(path.join(process.env.DELTAFLOW_BENCH_DIR ?? os.tmpdir(), 'bench-stream-save-'));
  const dataDir = path.join(root, 'data');
  const dbDir = path.join(dataDir, 'databases', String(DBID));
  const db = BlockDatabase.create(dbDir, { dbid: DBID, geometry });
  const chunk = Buffer.allocUnsafe(128 * BLOCK);
  for (let r = 1; r <= dataBlocks; r += 128) {
    const n = Math.min(128, dataBlocks - r + 1);
    randomFillSync(chunk);
    db.writeBlocks('DATA', r, chunk.subarray(0, n * BLOCK));
  }
  db.flush();
  db.close();
  // the same bytes as the save's blocks: the database's largest file (its DATA)
  const files = fs.readdirSync(dbDir, { recursive: true }).map(String).map((f) => path.join(dbDir, f)).filter((f) => fs.statSync(f).isFile());
  const source = files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
  const bytes = fs.statSync(source).size;
  const mb = (s: number) => bytes / s / 1e6;
  const ceilings = cpCeilings(source, path.join(root, 'cp.out'));
  const { cps, cpSyncs } = ceilings;
  const cp = mb(ceilings.cp);
  const cpSync = mb(ceilings.cpSync);

  const broker = await startBroker(path.join(root, 'kafka'));
  const pub = await new Publisher(broker.brokers).start();
  const events = await new TopicCollector(broker.brokers, 'dsf.events').start();
  const logger = new StandInChangeLogger(events, pub).start();
  logger.geometry = geometry;
  const inProcess = process.env.DELTAFLOW_BENCH_INPROCESS === '1';
  const log = process.env.BENCH_VERBOSE ? (m: string) => console.log(new Date().toISOString(), m) : () => undefined;
  // an operator key, so that a stream can be encrypted (the encrypted save's row)
  const keyFile = path.join(root, 'operator.key');
  fs.writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const services = new ServiceProcesses({
    KAFKA_BROKERS: broker.brokers.join(','),
    DELTAFLOW_DATA_DIR: dataDir,
    SOV_VOLUME_CAPACITY: String(64 * 1024 * MiB),
    SOV_OPERATOR_KEY_FILE: keyFile,
    DELTAFLOW_LOG_LEVEL: 'warn',
  });
  const stops: Array<() => Promise<unknown>> = [];
  const pids: Array<[string, number]> = [['bench', process.pid], ['broker', broker.child.pid!]];
  if (inProcess) {
    const mux = await startStreamMultiplexer(
      multiplexerDefaults({
        brokers: broker.brokers,
        volumeDir: path.join(root, 'tapes'),
        streamDefaults: { minDevices: 1, maxDevices: 4, volumeCapacity: 64 * 1024 * MiB, runSuperblocks: 16, checkpointEveryBytes: 64 * MiB, compression: 'none', encryption: 'none' },
        operatorKey: Buffer.from(fs.readFileSync(keyFile, 'utf8'), 'hex'),
        log,
      }),
    );
    const writer = await startSaveWriter({ brokers: broker.brokers, dataDir, log });
    stops.push(() => writer.stop(), () => mux.stop());
  } else {
    for (const s of ['stream-multiplexer', 'save-writer']) pids.push([s, (await services.start(s)).proc.pid!]);
    stops.push(() => services.stopAll());
  }
  const sov = await SovClient.connect({ brokers: broker.brokers, clientId: 'bench-save' });
  const rows: string[][] = [
    [`${(bytes / MiB).toFixed(0)} MiB`, 'cp (median of 3)', cp.toFixed(0), cps.map((s) => mb(s).toFixed(0)).join(' / ')],
    [`${(bytes / MiB).toFixed(0)} MiB`, 'cp + sync (median of 3)', cpSync.toFixed(0), cpSyncs.map((s) => mb(s).toFixed(0)).join(' / ')],
  ];
  try {
    await sov.command({ type: 'StreamDefine', stream: 'BENCH' });
    await sov.command({ type: 'StreamDefine', stream: 'BENCHENC', encryption: 'aes-256-gcm' });
    const sovEvents = await new TopicCollector(broker.brokers, 'sov.events').start();
    for (const stream of ['BENCH', 'BENCHENC']) await sovEvents.waitFor((e) => e.type === 'DeviceAdded' && 'stream' in e && e.stream === stream, 60_000);
    await sovEvents.stop();
    const cpu = () => pids.reduce((n, [, pid]) => n + cpuSeconds(pid), 0);
    let plainStream = 0;
    const each = () => pids.map(([, pid]) => cpuSeconds(pid));
    for (const [label, destination] of [
      ['full save to a directory', { kind: 'directory', name: 'bench-dir' }],
      ['full save through a stream', { kind: 'stream', stream: 'BENCH', name: 'bench-stream' }],
      ['full save through an encrypted stream (AES-256-GCM)', { kind: 'stream', stream: 'BENCHENC', name: 'bench-stream-enc' }],
    ] as Array<[string, MessageOfType<'SaveRequested'>['destination']]>) {
      const cid = `bench-${destination.kind === 'stream' ? destination.stream : destination.kind}`;
      const c0 = cpu();
      const e0 = each();
      await pub.publish({ type: 'SaveRequested', correlationId: cid, dbid: DBID, kind: 'full', online: false, destination });
      const started = await events.waitFor<MessageOfType<'SaveStarted'>>((m) => m.type === 'SaveStarted' && m.correlationId === cid, 600_000);
      const done = await events.waitFor((m) => (m.type === 'SaveCompleted' || m.type === 'SaveFailed') && m.correlationId === cid, 3_600_000);
      if (done.type !== 'SaveCompleted') throw new Error(`${cid}: ${JSON.stringify(done)}`);
      const s = (done.occurredAt - started.occurredAt) / 1000;
      const c1 = cpu();
      const perProcess = each()
        .map((c, i) => `${pids[i][0]} ${((c - e0[i]) / (bytes / 2 ** 30)).toFixed(1)}`)
        .join(', ');
      const rate = mb(s);
      rows.push([
        `${(bytes / MiB).toFixed(0)} MiB`,
        label,
        rate.toFixed(0),
        `${((rate / cp) * 100).toFixed(1)} % of cp, ${((rate / cpSync) * 100).toFixed(1)} % of cp + sync; ${s.toFixed(1)} s, ${((c1 - c0) / (bytes / 2 ** 30)).toFixed(1)} CPU-s/GiB (${perProcess})`,
      ]);
      if (destination.kind === 'stream' && destination.stream === 'BENCHENC') {
        const plain = plainStream;
        rows[rows.length - 1][3] += `; ${(((plain - rate) / plain) * 100).toFixed(1)} % slower than unencrypted`;
        record({ bench: 'streaming-save', figure: `${label} (${MIB} MiB)`, value: rate, unit: 'MB/s', ceiling: { name: 'the same save unencrypted', value: plain }, goal: '≥ 0.91 (≤ 10 % slower)' });
        continue;
      }
      if (destination.kind === 'stream') plainStream = rate;
      record({ bench: 'streaming-save', figure: `${label} (${MIB} MiB), vs cp`, value: rate, unit: 'MB/s', ceiling: { name: 'cp', value: cp }, goal: '≥ 0.33' });
      record({ bench: 'streaming-save', figure: `${label} (${MIB} MiB), vs cp + sync`, value: rate, unit: 'MB/s', ceiling: { name: 'cp + sync', value: cpSync }, goal: '≥ 0.80' });
      fs.rmSync(dataSetPath(dataDir, 'bench-dir'), { force: true });
    }
  } finally {
    await sov.close();
    for (const stop of stops) await stop();
    logger.stop();
    await events.stop();
    await pub.stop();
    await broker.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`\n== a full save to a directory and through a stream (${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, node ${process.version}, broker fsync always, unthrottled file device, services ${inProcess ? 'in one process' : 'as their own processes'})`);
  console.log(table(['size', 'path', 'MB/s', 'ratio'], rows));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
