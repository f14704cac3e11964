/**
 * Broker throughput: kafkajs producing (acks=-1) and a consumer group reading back, through the
 * embedded broker running as its own process (fsync=always, as `npm run broker` defaults), against
 * the same bytes sent through a raw loopback TCP socket to another process (the ceiling). For the
 * 256 KiB messages also the lean bulk producer (libs/service-kit BulkProducer: the same requests,
 * written without copies) and librdkafka's kcat -P (acks=all), when kcat is installed.
 *   node infra/launcher/bin/run-ts.js test/bench/broker/throughput.ts [--quick]
 */
import { record, timedRequests } from '../report';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { spawnSync } from 'node:child_process';
import { crc32c } from '@deltaflow/checksum';
import { BulkProducer } from '@deltaflow/service-kit';
import { Kafka, logLevel } from 'kafkajs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const ROOT = path.resolve(__dirname, '../../..');
const quick = process.argv.includes('--quick');

interface Case {
  readonly name: string;
  readonly messageBytes: number;
  readonly messages: number;
  readonly perSend: number;
  readonly inFlight: number;
}

const CASES: Case[] = [
  { name: '256 KiB messages', messageBytes: 256 * 1024, messages: quick ? 256 : 1024, perSend: 4, inFlight: Number(process.env.BENCH_INFLIGHT ?? 4) },
  { name: '1 KiB messages', messageBytes: 1024, messages: quick ? 50_000 : 200_000, perSend: 1000, inFlight: 4 },
];

function startBroker(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'infra/launcher/bin/run-ts.js'), 'infra/embedded-kafka/src/main.ts', '--port', '0', '--data-dir', dataDir, '--fsync', process.env.BENCH_FSYNC ?? 'always'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (c) => reject(new Error(`broker exited ${c}`)));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

async function produce(kafka: Kafka, topic: string, c: Case): Promise<number> {
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const value = Buffer.alloc(c.messageBytes, 0x61);
  const messages = Array.from({ length: c.perSend }, () => ({ value }));
  const sends = Math.ceil(c.messages / c.perSend);
  const secs = await timedRequests(sends, c.inFlight, () => producer.send({ topic, acks: -1, messages }));
  await producer.disconnect();
  return secs;
}

/** The lean bulk producer: the same messages, `perSend` a request, `inFlight` requests on its one connection. */
async function produceLean(kafka: Kafka, topic: string, c: Case): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const p = await BulkProducer.connect({ kafka, clientId: 'bench-lean', topic, partition: 0 });
  const value = Buffer.alloc(c.messageBytes, 0x61);
  const crc = crc32c(value);
  const records = Array.from({ length: c.perSend }, () => ({ key: null, value: [value], valueCrcs: [crc] }));
  const sends = Math.ceil(c.messages / c.perSend);
  const secs = await timedRequests(sends, c.inFlight, () => p.send(records));
  await p.close();
  return secs;
}

const hasKcat = spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;

/** librdkafka's kcat -P, acks=all: each message one file argument (the same file), timed from spawn to exit. */
function produceKcat(broker: string, topic: string, c: Case, dir: string, total: number): number {
  const file = path.join(dir, 'kcat-message.bin');
  fs.writeFileSync(file, Buffer.alloc(c.messageBytes, 0x61));
  const t0 = process.hrtime.bigint();
  const r = spawnSync('kcat', ['-P', '-b', broker, '-t', topic, '-p', '0', '-X', 'acks=all', '-X', 'message.max.bytes=16000000', ...Array<string>(total).fill(file)], { encoding: 'utf8' });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`kcat -P failed: ${r.stderr}`);
  return secs;
}

async function consume(kafka: Kafka, topic: string, total: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxBytes: 64 * 1024 * 1024, maxBytesPerPartition: 16 * 1024 * 1024, sessionTimeout: 30000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let n = 0;
  let t0 = 0n;
  const secs = await new Promise<number>((resolve) => {
    void consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        if (t0 === 0n) t0 = process.hrtime.bigint();
        n += batch.messages.length;
        if (n >= total) resolve(Number(process.hrtime.bigint() - t0) / 1e9);
      },
    });
  });
  await consumer.disconnect();
  return secs;
}

/** Ceiling: the same bytes, in the same message-sized writes, through loopback TCP to another process. */
async function rawCeiling(totalBytes: number, chunkBytes: number): Promise<number> {
  const sink = spawn(
    process.execPath,
    [
      '-e',
      `const net=require('net');let n=0;const total=${totalBytes};net.createServer(s=>{s.on('data',d=>{n+=d.length;if(n>=total){s.end('done');}})}).listen(0,'127.0.0.1',function(){console.log(this.address().port)})`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) => sink.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  const chunk = Buffer.alloc(chunkBytes, 0x61);
  const secs = await new Promise<number>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const t0 = process.hrtime.bigint();
    s.on('data', () => {
      resolve(Number(process.hrtime.bigint() - t0) / 1e9);
      s.destroy();
    });
    s.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
    };
    s.on('connect', pump);
  });
  sink.kill();
  return secs;
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-bench-'));
  const broker = await startBroker(dataDir);
  const kafka = new Kafka({ brokers: [`127.0.0.1:${broker.port}`], clientId: 'bench', logLevel: logLevel.NOTHING });
  const rows: string[][] = [];
  try {
    for (const c of CASES) {
      const topic = `bench-${c.messageBytes}-${Date.now()}`;
      const total = Math.ceil(c.messages / c.perSend) * c.perSend;
      const bytes = total * c.messageBytes;
      const ceiling = await rawCeiling(bytes, c.messageBytes);
      const cpu0 = cpuSeconds(broker.child.pid!);
      const p = await produce(kafka, topic, c);
      const cpu1 = cpuSeconds(broker.child.pid!);
      const r = await consume(kafka, topic, total);
      const cpu2 = cpuSeconds(broker.child.pid!);
      const mb = (s: number) => bytes / s / 1e6;
      const ms = (s: number) => total / s;
      const busy = (cpu: number, s: number) => `${((cpu / s) * 100).toFixed(0)}%`;
      rows.push([c.name, 'raw TCP ceiling', mb(ceiling).toFixed(0), ms(ceiling).toFixed(0), '1.00', '-']);
      for (const [what, s] of [['produce acks=-1', p], ['group consume', r]] as const) {
        const mbps = c.messageBytes >= 65536;
        record({ bench: 'broker', figure: `${c.name}: ${what}`, value: mbps ? mb(s) : ms(s), unit: mbps ? 'MB/s' : 'msg/s', ceiling: { name: 'raw TCP', value: mbps ? mb(ceiling) : ms(ceiling) } });
      }
      rows.push([c.name, 'produce acks=-1', mb(p).toFixed(0), ms(p).toFixed(0), (ceiling / p).toFixed(2), busy(cpu1 - cpu0, p)]);
      rows.push([c.name, 'group consume', mb(r).toFixed(0), ms(r).toFixed(0), (ceiling / r).toFixed(2), busy(cpu2 - cpu1, r)]);
      if (c.messageBytes >= 65536) {
        const others: Array<[string, () => Promise<number> | number]> = [['lean bulk producer acks=-1', () => produceLean(kafka, `${topic}-lean`, c)]];
        if (hasKcat) others.push(['kcat -P acks=all', () => produceKcat(`127.0.0.1:${broker.port}`, `${topic}-kcat`, c, dataDir, total)]);
        for (const [what, run] of others) {
          const c0 = cpuSeconds(broker.child.pid!);
          const s = await run();
          const c1 = cpuSeconds(broker.child.pid!);
          record({ bench: 'broker', figure: `${c.name}: ${what}`, value: mb(s), unit: 'MB/s', ceiling: { name: 'raw TCP', value: mb(ceiling) } });
          rows.push([c.name, what, mb(s).toFixed(0), ms(s).toFixed(0), (ceiling / s).toFixed(2), busy(c1 - c0, s)]);
        }
      }
    }
  } finally {
    broker.child.kill('SIGTERM');
    await new Promise((r) => broker.child.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const head = ['case', 'path', 'MB/s', 'msg/s', 'ratio to ceiling', 'broker CPU'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join(' | ');
  console.log(`embedded broker throughput (${os.cpus().length} cores, node ${process.version}${quick ? ', --quick' : ''})`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
  console.log(`broker fsync policy: ${process.env.BENCH_FSYNC ?? 'always'}; broker CPU = share of one core the broker process used during the phase`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
