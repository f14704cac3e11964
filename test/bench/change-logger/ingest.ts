/**
 * Change-logger ingest benchmark: N upstream BlockChanged of 4 KiB (dbid 1) are produced to
 * dsf.block-changes on the embedded broker (fsync 'always': acks=-1 means on disk), then the
 * change logger is started and timed until it has accepted all N, i.e. until every PlogImage
 * and DLOG record is durably acknowledged. Prints changes/s.
 * Run: node infra/launcher/bin/run-ts.js test/bench/change-logger/ingest.ts [N]
 */
import { record } from '../report';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Geometry } from '@deltaflow/blocks';
import { encodeMessage } from '@deltaflow/contracts';
import { spawn, type ChildProcess } from 'node:child_process';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { startChangeLogger } from '../../../apps/change-logger/src/app';

const N = Number(process.argv[2] ?? 100_000);
const BATCH = Number(process.argv[3] ?? 500);
const geometry: Geometry = {
  asso: { blockSize: 4096, blocks: 1024 },
  data: { blockSize: 4096, blocks: 262_144 },
  maxFiles: 4,
  files: [{ file: 1, extents: [{ part: 'DATA', from: 1, to: 262_144 }, { part: 'AC', from: 11, to: 100 }, { part: 'INDEX', from: 101, to: 1000 }] }],
};

async function spawnBroker(dataDir: string): Promise<{ brokers: string[]; stop(): Promise<void> }> {
  const root = path.resolve(__dirname, '../../..');
  const child: ChildProcess = spawn(process.execPath, [path.join(root, 'infra/launcher/bin/run-ts.js'), path.join(root, 'infra/embedded-kafka/src/main.ts'), '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)));
  });
  return {
    brokers: [address],
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-bench-'));
  // the broker runs in its own process (as with `npm start`), so it does not share the change logger's thread
  const broker = await spawnBroker(dir);
  const kafka = new Kafka({ brokers: broker.brokers, clientId: 'bench', logLevel: logLevel.ERROR });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const image = Buffer.alloc(4096, 7);
  let lsn = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += BATCH) {
    const messages = [];
    for (let j = 0; j < BATCH && i + j < N; j++) {
      lsn++;
      const r = encodeMessage({ type: 'BlockChanged', dbid: 1, area: 'DATA', rabn: 1 + ((lsn * 7919) % 262_144), lsn, txn: lsn, image });
      messages.push({ key: r.key, value: r.value, headers: { ...r.headers } });
    }
    await producer.send({ topic: 'dsf.block-changes', acks: -1, messages });
  }
  const produceS = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`upstream produce: ${N} changes of 4 KiB in ${produceS.toFixed(2)} s = ${Math.round(N / produceS)} changes/s (acks=-1, fsync always)`);

  const t1 = process.hrtime.bigint();
  const svc = await startChangeLogger({ brokers: broker.brokers, databases: [{ dbid: 1, geometry }], groupId: 'bench' });
  const done = () => svc.stats.accepted + svc.stats.rejected + svc.stats.duplicates;
  while (done() === 0) await new Promise((r) => setTimeout(r, 5));
  // steady state: from the end of the first handled batch (after start-up, rebuild and group join)
  const t2 = process.hrtime.bigint();
  const first = done();
  while (done() < N) await new Promise((r) => setTimeout(r, 20));
  const end = process.hrtime.bigint();
  const ingestS = Number(end - t1) / 1e9;
  const steadyS = Number(end - t2) / 1e9;
  console.log(
    `change-logger ingest: ${svc.stats.accepted} accepted (${svc.stats.rejected} rejected) in ${ingestS.toFixed(2)} s over ${svc.stats.batches} batches = ${Math.round(N / ingestS)} changes/s including start-up; steady state ${Math.round((N - first) / steadyS)} changes/s (PLOG + DLOG durable, acks=-1)`,
  );
  record({ bench: 'change-logger', figure: 'ingest of 4 KiB changes (PLOG + DLOG durable)', value: N / ingestS, unit: 'changes/s', ceiling: { name: 'upstream produce', value: N / produceS }, goal: '>= 20,000 changes/s' });
  await svc.stop();
  await producer.disconnect();
  await broker.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
