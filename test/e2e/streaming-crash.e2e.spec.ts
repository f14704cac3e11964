/*
 * kill -9 of the stream multiplexer mid-stream (a child process running apps/stream-multiplexer
 * main.ts), then a restart: no superblock a writer had acknowledged is lost, none is placed twice
 * (on the volumes or in the events), every client file reads back byte-identical.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MessageOfType, TopicMessage } from '@deltaflow/contracts';
import { SovClient } from '@deltaflow/service-kit';
import { FileDevice, scanStreamFile } from '@deltaflow/tape';
import { tempDir, testKafka, TopicCollector, type TestKafka } from '@deltaflow/testing';
import { content, readBack, sha256 } from '../../apps/stream-multiplexer/src/testing/harness';
import { startMultiplexerProcess } from './support/multiplexer-process';

jest.setTimeout(300_000);

let kafka: TestKafka;
let dir: string;
let events: TopicCollector<TopicMessage<'sov.events'>>;
let sov: SovClient;
let child: ChildProcess | undefined;
let output = '';

function startMultiplexer(): Promise<ChildProcess> {
  return startMultiplexerProcess(
    {
      KAFKA_BROKERS: kafka.brokers.join(','),
      DELTAFLOW_DATA_DIR: dir,
      SOV_VOLUME_DIR: path.join(dir, 'tapes'),
      SOV_VOLUME_CAPACITY: String(6 << 20),
      SOV_RUN_SUPERBLOCKS: '4',
      SOV_RUN_LATENCY_MS: '100',
      SOV_SYNC_MS: '20',
      SOV_CHECKPOINT_BYTES: String(1 << 20),
    },
    (text) => (output += text),
  );
}

beforeAll(async () => {
  kafka = await testKafka();
  dir = tempDir('e2e-streaming-crash');
  events = await new TopicCollector<TopicMessage<'sov.events'>>(kafka.brokers, 'sov.events').start();
  sov = await SovClient.connect({ brokers: kafka.brokers, clientId: 'e2e-crash' });
});

afterAll(async () => {
  child?.kill('SIGTERM');
  await sov?.close();
  await events?.stop();
  await kafka?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('kill -9 mid-stream and a restart: nothing acknowledged lost, nothing placed twice', async () => {
  child = await startMultiplexer();
  await sov.command({ type: 'StreamDefine', stream: 'CRASH' });
  await events.waitFor((e) => e.type === 'DeviceAdded' && e.stream === 'CRASH');
  const files = Array.from({ length: 4 }, (_, i) => ({ name: `crash-${i}`, data: content(`crash-${i}`, (4 << 20) + i * 1000) }));
  const writers = await Promise.all(files.map((f) => sov.openClientFile({ stream: 'CRASH', clientFile: f.name, dbid: 3, kind: 'full' })));
  const piece = 64 << 10;
  const write = async (from: number, to: number) => {
    for (let off = from; off < to; off += piece) await Promise.all(writers.map((w, i) => (off < files[i].data.length ? w.write(files[i].data.subarray(off, Math.min(off + piece, to))) : Promise.resolve())));
    // acknowledged by Kafka: from now on none of it may be lost
    await Promise.all(writers.map((w) => w.flushed()));
  };
  const half = 2 << 20;
  await write(0, half);
  // mid-stream: some runs placed, more being written
  await events.waitFor((e) => e.type === 'RunPlaced' && e.stream === 'CRASH' && e.firstSeq >= 4, 60_000, 'runs placed');
  child.kill('SIGKILL');
  await new Promise((r) => child!.once('exit', r));
  output += '\n--- killed ---\n';
  const placedBefore = events.messages.filter((e) => e.type === 'RunPlaced').length;
  await write(half, 5 << 20); // acknowledged by Kafka while the multiplexer is down
  child = await startMultiplexer();
  const written = await Promise.all(writers.map((w) => w.finish()));

  const runs = events.messages.filter((e): e is MessageOfType<'RunPlaced'> => e.type === 'RunPlaced' && e.stream === 'CRASH');
  const dev = new FileDevice({ dir: path.join(dir, 'tapes'), capacity: 1 << 30, readOnly: true });
  for (const [i, w] of written.entries()) {
    const mine = runs.filter((r) => r.incarnation === w.incarnation);
    const seqs = mine.flatMap((r) => Array.from({ length: r.superblocks }, (_, k) => r.firstSeq + k)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: w.superblocks }, (_, k) => k)); // each once
    const opened = events.messages.find((e): e is MessageOfType<'ClientFileOpened'> => e.type === 'ClientFileOpened' && e.incarnation === w.incarnation)!;
    const closed = events.messages.find((e): e is MessageOfType<'ClientFileClosed'> => e.type === 'ClientFileClosed' && e.incarnation === w.incarnation);
    expect(sha256(await readBack(dev, opened, mine, closed))).toBe(sha256(files[i].data));
  }
  // the volumes hold exactly what the events say: no superblock written twice
  const scan = await scanStreamFile(dev);
  for (const { file, assessment } of scan.files) {
    expect(assessment).toMatchObject({ status: 'complete', conflicts: [] });
    expect([...file.runs.keys()].sort()).toEqual(runs.filter((r) => r.incarnation === file.incarnation).map((r) => `${r.volser}@${r.position}`).sort());
  }
  expect(placedBefore).toBeLessThan(runs.length);
  expect(output).toMatch(/serving CRASH \(partitions [^)]*\); 1 devices, 4 open client files/);
});
