/**
 * Throughput of a data set written through a stream (ClientFileWriter → Kafka → stream
 * multiplexer → a volume on an unthrottled file device, finish() = closed, every run synced and
 * placed) next to `cp` and `cp` + `sync` of the same bytes in the same run. Then the levers of the
 * kafkajs producer, each case next to the producer alone (the same bytes, the same requests, to a
 * scratch topic): superblocks per produce request and requests in flight; kafkajs' encoder growth
 * and Nagle's delay (levers.ts); one client file over several connections (the multiplexer
 * reorders within its window); several client files over one or several producers. The data set
 * goes through the stream once with kafkajs and once with the lean bulk producer (BulkProducer,
 * SOV_PRODUCER=lean), each producer also alone on the same bytes.
 *
 *   node infra/launcher/bin/run-ts.js test/bench/streaming/throughput.ts
 *
 * DELTAFLOW_BENCH_STREAM_MIB: the data set (default 2048); DELTAFLOW_BENCH_LEVER_MIB: each lever
 * case (default 512); BENCH_FSYNC: the broker's fsync policy (default always: acks=-1 is on disk);
 * DELTAFLOW_BENCH_DIR: where files go (default the OS temp dir); DELTAFLOW_BENCH_LEVERS=0 skips the
 * kafkajs lever sweeps (the producer comparison only); DELTAFLOW_BENCH_PRODUCERS=lean (or kafkajs): only
 * that producer's cases.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { BulkProducer, SovClient, type ClientFileWriterOptions } from '@deltaflow/service-kit';
import { Kafka, logLevel } from 'kafkajs';
import { multiplexerDefaults, startStreamMultiplexer, type RunningStreamMultiplexer } from '../../../apps/stream-multiplexer/src/app';
import { record, timedRequests } from '../report';
import { installEncoderLever, installNoDelayLever } from './levers';
import { cpCeilings, cpuSeconds, dataFile, MiB, secondsSince, startBroker, table } from './support';

const SIZE_MIB = Number(process.env.DELTAFLOW_BENCH_STREAM_MIB ?? 2048);
const LEVER_MIB = Number(process.env.DELTAFLOW_BENCH_LEVER_MIB ?? 512);
const fsyncPolicy = process.env.BENCH_FSYNC ?? 'always';

async function writeFile(sov: SovClient, file: string, bytes: number, name: string, opts: ClientFileWriterOptions): Promise<number> {
  const w = await sov.openClientFile({ stream: 'BENCH', clientFile: name, kind: 'full' }, opts);
  const fd = await fs.promises.open(file, 'r');
  const t0 = process.hrtime.bigint();
  try {
    const buf = Buffer.allocUnsafe(4 * MiB);
    for (let off = 0; off < bytes; ) {
      const { bytesRead } = await fd.read(buf, 0, Math.min(buf.length, bytes - off), off);
      await w.write(buf.subarray(0, bytesRead));
      off += bytesRead;
    }
    await w.finish();
  } finally {
    await fd.close();
  }
  return secondsSince(t0);
}

/** The kafkajs producer alone: the same bytes as 256 KiB messages, `perRequest` a request, `inFlight` requests. */
async function producerAlone(brokers: string[], bytes: number, perRequest: number, inFlight: number): Promise<number> {
  const kafka = new Kafka({ brokers, clientId: 'bench-producer', logLevel: logLevel.NOTHING });
  const p = kafka.producer({ allowAutoTopicCreation: true });
  await p.connect();
  const topic = `bench.producer.${Date.now()}`;
  const value = Buffer.alloc(256 * 1024, 0x5a);
  const messages = Array.from({ length: perRequest }, () => ({ key: 'BENCH', value }));
  const requests = Math.ceil(bytes / (256 * 1024 * perRequest));
  const s = await timedRequests(requests, inFlight, () => p.send({ topic, acks: -1, messages }));
  await p.disconnect();
  return s;
}

/** The lean bulk producer alone: the same bytes as 256 KiB records, `perRequest` a request, to a scratch topic. */
async function leanAlone(brokers: string[], bytes: number, perRequest: number, inFlight: number): Promise<number> {
  const kafka = new Kafka({ brokers, clientId: 'bench-lean', logLevel: logLevel.NOTHING });
  const topic = `bench.lean.${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const p = await BulkProducer.connect({ kafka, clientId: 'bench-lean', topic, partition: 0 });
  const value = Buffer.alloc(256 * 1024, 0x5a);
  const crc = crc32c(value);
  const records = Array.from({ length: perRequest }, () => ({ key: 'BENCH', value: [value], valueCrcs: [crc] }));
  const requests = Math.ceil(bytes / (256 * 1024 * perRequest));
  const s = await timedRequests(requests, inFlight, () => p.send(records));
  await p.close();
  return s;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(process.env.DELTAFLOW_BENCH_DIR ?? os.tmpdir(), 'bench-stream-'));
  const mb = (bytes: number, s: number) => bytes / s / 1e6;
  const rows: string[][] = [];
  let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
  let mux: RunningStreamMultiplexer | undefined;
  let sov: SovClient | undefined;
  try {
    const bytes = SIZE_MIB * MiB;
    const data = path.join(root, 'data.bin');
    dataFile(data, bytes);
    const { cp, cpSync, cps, cpSyncs } = cpCeilings(data, path.join(root, 'cp.out'));
    rows.push([`${SIZE_MIB} MiB`, 'cp (median of 3)', mb(bytes, cp).toFixed(0), '-', cps.map((s) => mb(bytes, s).toFixed(0)).join(' / ')]);
    rows.push([`${SIZE_MIB} MiB`, 'cp + sync (median of 3)', mb(bytes, cpSync).toFixed(0), '-', cpSyncs.map((s) => mb(bytes, s).toFixed(0)).join(' / ')]);

    broker = await startBroker(path.join(root, 'kafka'), fsyncPolicy);
    mux = await startStreamMultiplexer(
      multiplexerDefaults({
        brokers: broker.brokers,
        volumeDir: path.join(root, 'tapes'),
        streamDefaults: { minDevices: 1, maxDevices: 4, volumeCapacity: 64 * 1024 * MiB, runSuperblocks: 16, checkpointEveryBytes: 64 * MiB, compression: 'none', encryption: 'none' },
        log: () => undefined,
      }),
    );
    sov = await SovClient.connect({ brokers: broker.brokers, clientId: 'bench', superblockProducer: 'kafkajs' });
    await sov.command({ type: 'StreamDefine', stream: 'BENCH' });
    while (!mux.service.state.streams.has('BENCH')) await new Promise((r) => setTimeout(r, 50));
    const cpu = () => cpuSeconds(process.pid) + cpuSeconds(broker!.child.pid!);
    const leverBytes = Math.min(LEVER_MIB, SIZE_MIB) * MiB;
    let n = 0;
    const dataset = async (label: string, opts: ClientFileWriterOptions, client: SovClient) => {
      const c0 = cpu();
      const s = await writeFile(client, data, bytes, `dataset-${n++}`, opts);
      const c1 = cpu();
      const rate = mb(bytes, s);
      rows.push([
        `${SIZE_MIB} MiB`,
        `stream, ${label} (${opts.superblocksPerRequest ?? 8}/request, ${opts.inFlight ?? 4} in flight${opts.connections ? `, ${opts.connections} connections` : ''})`,
        rate.toFixed(0),
        '-',
        `${((rate / mb(bytes, cp)) * 100).toFixed(1)} % of cp, ${((rate / mb(bytes, cpSync)) * 100).toFixed(1)} % of cp+sync; ${((c1 - c0) / s).toFixed(2)} cores, ${((c1 - c0) / (bytes / 2 ** 30)).toFixed(1)} CPU-s/GiB`,
      ]);
      record({ bench: 'streaming', figure: `${SIZE_MIB} MiB through a stream, ${label}, vs cp`, value: rate, unit: 'MB/s', ceiling: { name: 'cp', value: mb(bytes, cp) }, goal: '≥ 0.33' });
      record({ bench: 'streaming', figure: `${SIZE_MIB} MiB through a stream, ${label}, vs cp+sync`, value: rate, unit: 'MB/s', ceiling: { name: 'cp + sync', value: mb(bytes, cpSync) }, goal: '≥ 0.80' });
      return rate;
    };
    const sweep = async (label: string, cases: Array<[number, number]>) => {
      let best: { opts: ClientFileWriterOptions; rate: number } = { opts: {}, rate: 0 };
      for (const [perRequest, inFlight] of cases) {
        const opts = { superblocksPerRequest: perRequest, inFlight };
        const rate = mb(leverBytes, await writeFile(sov!, data, leverBytes, `lever-${n++}`, opts));
        const alone = mb(leverBytes, await producerAlone(broker!.brokers, leverBytes, perRequest, inFlight));
        rows.push([`${leverBytes / MiB} MiB`, `stream${label}, ${perRequest}/request, ${inFlight} in flight`, rate.toFixed(0), alone.toFixed(0), `${((rate / alone) * 100).toFixed(0)} % of the producer alone`]);
        record({ bench: 'streaming', figure: `stream ${leverBytes / MiB} MiB${label}, ${perRequest}/request, ${inFlight} in flight`, value: rate, unit: 'MB/s', ceiling: { name: 'kafkajs producer alone', value: alone } });
        if (rate > best.rate) best = { opts, rate };
      }
      return best;
    };

    // the two producers of superblocks, each through the stream and alone on the same bytes
    const lean = await SovClient.connect({ brokers: broker.brokers, clientId: 'bench-lean', superblockProducer: 'lean' });
    try {
      const producers = (process.env.DELTAFLOW_BENCH_PRODUCERS ?? 'kafkajs,lean').split(',');
      for (const [label, client, opts] of (
        [
          ['kafkajs', sov, {}],
          ['lean producer', lean, {}],
          ['lean producer', lean, { superblocksPerRequest: 16, inFlight: 8 }],
        ] as Array<[string, SovClient, ClientFileWriterOptions]>
      ).filter(([label]) => producers.includes(label.split(' ')[0]))) {
        const rate = await dataset(label, opts, client);
        const alone = mb(bytes, await (label === 'kafkajs' ? producerAlone : leanAlone)(broker.brokers, bytes, opts.superblocksPerRequest ?? 8, opts.inFlight ?? 4));
        rows.push([`${SIZE_MIB} MiB`, `${label} alone (${opts.superblocksPerRequest ?? 8}/request, ${opts.inFlight ?? 4} in flight)`, alone.toFixed(0), '-', `the stream at ${((rate / alone) * 100).toFixed(0)} % of it`]);
        record({ bench: 'streaming', figure: `${SIZE_MIB} MiB, ${label} alone (${opts.superblocksPerRequest ?? 8}/request, ${opts.inFlight ?? 4} in flight)`, value: alone, unit: 'MB/s', ceiling: { name: 'cp + sync', value: mb(bytes, cpSync) } });
      }
    } finally {
      await lean.close();
    }
    if (process.env.DELTAFLOW_BENCH_LEVERS !== '0') {
      await sweep('', [
        [1, 1],
        [4, 1],
        [8, 4],
        [16, 4],
        [28, 8],
      ]);
      // the levers: no zero-filled encoder growth, no Nagle delay on the request tail
      installEncoderLever();
      installNoDelayLever();
      const levered = await SovClient.connect({ brokers: broker.brokers, clientId: 'bench-levers', producers: 4, superblockProducer: 'kafkajs' });
      await sov.close();
      sov = levered;
      const best = await sweep(' + levers', [
        [4, 1],
        [8, 4],
        [16, 4],
        [28, 8],
      ]);
      // several connections: one client file spread over 4, or 4 client files on 1 or 4
      const spread = mb(leverBytes, await writeFile(sov, data, leverBytes, `spread-${n++}`, { ...best.opts, connections: 4 }));
      rows.push([`${leverBytes / MiB} MiB`, `stream + levers, one client file over 4 connections`, spread.toFixed(0), '-', '-']);
      record({ bench: 'streaming', figure: `stream ${leverBytes / MiB} MiB + levers, one file over 4 connections`, value: spread, unit: 'MB/s', ceiling: { name: 'cp + sync', value: mb(bytes, cpSync) } });
      for (const producers of [1, 4]) {
        const many = await SovClient.connect({ brokers: broker.brokers, clientId: `bench-${producers}`, producers, superblockProducer: 'kafkajs' });
        const per = Math.floor(leverBytes / 4);
        const t0 = process.hrtime.bigint();
        await Promise.all([0, 1, 2, 3].map((i) => writeFile(many, data, per, `many-${producers}-${i}`, best.opts)));
        const s = secondsSince(t0);
        await many.close();
        rows.push([`4 × ${per / MiB} MiB`, `stream + levers, 4 client files, ${producers} producer${producers > 1 ? 's' : ''}`, mb(4 * per, s).toFixed(0), '-', '-']);
        record({ bench: 'streaming', figure: `4 client files of ${per / MiB} MiB + levers, ${producers} producer(s)`, value: mb(4 * per, s), unit: 'MB/s', ceiling: { name: 'cp + sync', value: mb(bytes, cpSync) } });
      }
      await dataset('with the levers', best.opts, sov);
    }
  } finally {
    await sov?.close();
    await mux?.stop();
    await broker?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`\n== a data set through a stream (${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, node ${process.version}, broker fsync ${fsyncPolicy}, unthrottled file device, K = 16)`);
  console.log(table(['size', 'path', 'MB/s', 'producer alone MB/s', 'ratio'], rows));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
