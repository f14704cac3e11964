import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { decodeFrom, encodeSuperblock, type MessageOfType, type TopicMessage } from '@deltaflow/contracts';
import { SovClient } from '@deltaflow/service-kit';
import { FileDevice, scanStreamFile } from '@deltaflow/tape';
import { tempDir, testKafka, TopicCollector, type TestKafka } from '@deltaflow/testing';
import { Kafka, logLevel } from 'kafkajs';
import { multiplexerDefaults, startStreamMultiplexer, type RunningStreamMultiplexer } from './app';
import { content, FailingDevice, readBack, sha256 } from './testing/harness';

jest.setTimeout(180_000);

let kafka: TestKafka;
let dir: string;
let events: TopicCollector<TopicMessage<'sov.events'>>;
let sov: SovClient;
let mux: RunningStreamMultiplexer | undefined;
const failing = new Map<string, FailingDevice>();
const logs: string[] = [];

const start = async (over: Partial<Parameters<typeof multiplexerDefaults>[0]> = {}) => {
  mux = await startStreamMultiplexer(
    multiplexerDefaults({
      brokers: kafka.brokers,
      volumeDir: path.join(dir, 'tapes'),
      httpPort: 0,
      streamDefaults: { minDevices: 1, maxDevices: 2, volumeCapacity: 4 << 20, runSuperblocks: 4, checkpointEveryBytes: 1 << 20, compression: 'none', encryption: 'none' },
      runLatencyMs: 50,
      syncMs: 20,
      deviceTimeoutMs: 3000,
      deviceFactory: (spec) => {
        const d = new FailingDevice(new FileDevice({ name: `${spec.stream}/${spec.device}`, dir: spec.dir, capacity: spec.capacity }));
        failing.set(`${spec.stream}/${spec.device}`, d);
        return d;
      },
      log: (m) => logs.push(m),
      ...over,
    }),
  );
};
const opened = (inc: string) => events.messages.find((e): e is MessageOfType<'ClientFileOpened'> => e.type === 'ClientFileOpened' && e.incarnation === inc)!;
const runsOf = (inc: string) => events.messages.filter((e): e is MessageOfType<'RunPlaced'> => e.type === 'RunPlaced' && e.incarnation === inc);
const closedOf = (inc: string) => events.messages.find((e): e is MessageOfType<'ClientFileClosed'> => e.type === 'ClientFileClosed' && e.incarnation === inc);

async function readAll(topic: string): Promise<Buffer[]> {
  const k = new Kafka({ brokers: kafka.brokers, clientId: 't', logLevel: logLevel.NOTHING });
  const admin = k.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
  await admin.disconnect();
  const total = offsets.reduce((n, p) => n + Number(p.high), 0);
  const out: Buffer[] = [];
  if (!total) return out;
  const c = k.consumer({ groupId: `read-${Date.now()}-${Math.random()}` });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve) => {
    void c.run({
      eachMessage: async ({ message }) => {
        out.push(message.value!);
        if (out.length >= total) resolve();
      },
    });
  });
  await c.disconnect();
  return out;
}

beforeAll(async () => {
  kafka = await testKafka();
  dir = tempDir('mux-int');
  events = await new TopicCollector<TopicMessage<'sov.events'>>(kafka.brokers, 'sov.events').start();
  await start();
  sov = await SovClient.connect({ brokers: kafka.brokers, clientId: 'mux-int' });
  await sov.command({ type: 'StreamDefine', stream: 'S1' });
  await events.waitFor((e) => e.type === 'DeviceAdded' && e.stream === 'S1');
});

afterAll(async () => {
  fs.writeFileSync('/tmp/mux-int.log', logs.join('\n'));
  await sov?.close();
  await mux?.stop();
  await events?.stop();
  await kafka?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('stream multiplexer on the embedded broker', () => {
  it('interleaves runs of several client files on one volume chain and places every superblock once', async () => {
    const sizes = [3 << 20, (5 << 20) + 12345, 256 << 10, 0];
    const data = sizes.map((n, i) => content(`file-${i}`, n));
    const writers = await Promise.all(data.map((_, i) => sov.openClientFile({ stream: 'S1', clientFile: `file-${i}`, dbid: 7, kind: 'full' })));
    // write in 100 KiB pieces, round robin
    for (let off = 0; data.some((d) => off < d.length); off += 100 << 10)
      await Promise.all(writers.map((w, i) => (off < data[i].length ? w.write(data[i].subarray(off, off + (100 << 10))) : Promise.resolve())));
    const written = await Promise.all(writers.map((w) => w.finish()));
    written.forEach((w, i) => expect(w).toMatchObject({ bytes: sizes[i], sha256: sha256(data[i]), superblocks: Math.max(1, Math.ceil(sizes[i] / (256 << 10))) }));
    expect(written[1].volsers.length).toBeGreaterThan(1); // 5 MiB on 4 MiB volumes: it spans

    const dev = new FileDevice({ dir: path.join(dir, 'tapes'), capacity: 1 << 30 });
    for (const [i, w] of written.entries()) {
      const runs = runsOf(w.incarnation);
      expect(runs.reduce((n, r) => n + r.superblocks, 0)).toBe(w.superblocks); // each superblock placed once
      expect(runs.map((r) => r.firstSeq)).toEqual([...runs.map((r) => r.firstSeq)].sort((a, b) => a - b));
      expect(sha256(await readBack(dev, opened(w.incarnation), runs, closedOf(w.incarnation)))).toBe(sha256(data[i]));
    }
    // the runs of the files interleave on the first volume
    const first = events.messages.filter((e): e is MessageOfType<'RunPlaced'> => e.type === 'RunPlaced' && e.volser === written[0].volsers[0]).map((r) => r.clientFile);
    expect(new Set(first.slice(0, 6)).size).toBeGreaterThan(1);
    await dev.unmount();
  });

  it('dead-letters bad superblocks with their reason, and gives up the client files they belong to', async () => {
    const k = new Kafka({ brokers: kafka.brokers, clientId: 't', logLevel: logLevel.NOTHING });
    const p = k.producer();
    await p.connect();
    const [bad, gap] = await Promise.all(['bad', 'gap'].map((n) => sov.openClientFile({ stream: 'S1', clientFile: n })));
    await Promise.all([bad.opened(30_000), gap.opened(30_000)]);
    const sb = (clientFile: string, incarnation: string, seq: number, crc?: number, stream = 'S1') => {
      const payload = Buffer.alloc(1000, seq);
      const r = encodeSuperblock({ stream, clientFile, incarnation, seq, last: false, payload, crc: crc ?? crc32c(payload) });
      return { key: r.key, value: r.value, headers: r.headers };
    };
    await p.send({
      topic: 'sov.superblocks',
      acks: -1,
      messages: [
        sb('bad', bad.incarnation, 0, 12345),
        sb('bad', '00000000-0000-4000-8000-000000000000', 0),
        sb('bad', '00000000-0000-4000-8000-000000000001', 0, undefined, 'NOSUCH'),
        sb('gap', gap.incarnation, 5000), // far beyond the reorder window
      ],
    });
    await p.disconnect();
    const until = Date.now() + 30_000;
    let dead: Array<MessageOfType<'DeadLetter'>> = [];
    while (dead.length < 4 && Date.now() < until) {
      dead = (await readAll('sov.superblocks.dlq')).map((v) => decodeFrom('sov.superblocks.dlq', v) as MessageOfType<'DeadLetter'>);
      await new Promise((r) => setTimeout(r, 300));
    }
    dead.sort((a, b) => Number(a.offset) - Number(b.offset)); // parked ones are refused later, once sov.commands was read to its end
    expect(dead.map((d) => [d.errorCode, d.field])).toEqual([
      ['VALIDATION', 'crc'],
      ['UNKNOWN_CLIENT_FILE', 'incarnation'],
      ['UNKNOWN_STREAM', 'stream'],
      ['OUT_OF_SEQUENCE', 'seq'],
    ]);
    expect(dead[0].reason).toMatch(/CRC-32C/);
    // neither file can ever be whole: both are given up, their writers told
    await expect(bad.finish()).rejects.toThrow(/aborted|refused/);
    await expect(gap.finish()).rejects.toThrow(/aborted|refused/);
    expect(events.messages.filter((e) => e.type === 'ClientFileAborted').map((e) => (e as MessageOfType<'ClientFileAborted'>).reason)).toEqual(
      expect.arrayContaining([expect.stringMatching(/superblock 0 refused: .*CRC/), expect.stringMatching(/out of sequence/)]),
    );
  });

  it('takes superblocks that land out of order (requests in flight over several connections) back in sequence', async () => {
    const many = await SovClient.connect({ brokers: kafka.brokers, clientId: 'mux-int-many', producers: 4 });
    try {
      const data = content('spread', (6 << 20) + 3);
      const w = await many.openClientFile({ stream: 'S1', clientFile: 'spread' }, { connections: 4, superblocksPerRequest: 1, inFlight: 8 });
      for (let off = 0; off < data.length; off += 1 << 20) await w.write(data.subarray(off, off + (1 << 20)));
      const out = await w.finish();
      const dev = new FileDevice({ dir: path.join(dir, 'tapes'), capacity: 1 << 30 });
      expect(sha256(await readBack(dev, opened(out.incarnation), runsOf(out.incarnation), closedOf(out.incarnation)))).toBe(sha256(data));
      await dev.unmount();
    } finally {
      await many.close();
    }
  });

  it('an I/O error mid-volume: volume suspect, unsynced superblocks placed again on another device, nothing placed twice', async () => {
    const data = [content('io-a', 3 << 20), content('io-b', 2 << 20)];
    const writers = await Promise.all(data.map((_, i) => sov.openClientFile({ stream: 'S1', clientFile: `io-${i}` })));
    await Promise.all(writers.map((w) => w.opened(30_000)));
    const dev = failing.get('S1/d1')!;
    dev.failAfterBytes = dev.appended + (1 << 20);
    for (let off = 0; data.some((d) => off < d.length); off += 64 << 10)
      await Promise.all(writers.map((w, i) => (off < data[i].length ? w.write(data[i].subarray(off, off + (64 << 10))) : Promise.resolve())));
    const written = await Promise.all(writers.map((w) => w.finish()));
    expect(dev.failures).toBeGreaterThan(0);
    const failed = events.messages.find((e) => e.type === 'DeviceFailed');
    expect(failed).toMatchObject({ stream: 'S1', device: 'd1' });
    expect(events.messages.find((e) => e.type === 'VolumeSuspect')).toMatchObject({ stream: 'S1', device: 'd1' });
    const reader = new FileDevice({ dir: path.join(dir, 'tapes'), capacity: 1 << 30 });
    for (const [i, w] of written.entries()) {
      const runs = runsOf(w.incarnation);
      const seqs = runs.flatMap((r) => Array.from({ length: r.superblocks }, (_, k) => r.firstSeq + k));
      expect(seqs).toEqual([...new Set(seqs)]); // never twice
      expect(seqs.length).toBe(w.superblocks);
      expect(sha256(await readBack(reader, opened(w.incarnation), runs, closedOf(w.incarnation)))).toBe(sha256(data[i]));
    }
    // the suspect volume was cut back to its last sync: a scan finds no superblock its events do not name
    const scan = await scanStreamFile(reader);
    for (const { file } of scan.files) {
      const placed = runsOf(file.incarnation).map((r) => `${r.volser}@${r.position}`).sort();
      if (placed.length) expect([...file.runs.keys()].sort()).toEqual(placed);
    }
    await reader.unmount();
  });

  it('reports status, health and metrics over HTTP (the service kit\'s /health follows the spool)', async () => {
    const s = (await (await fetch(`${mux!.httpUrl}/status`)).json()) as { streams: Array<{ stream: string; devices: unknown[] }> };
    expect(s.streams.find((x) => x.stream === 'S1')!.devices.length).toBeGreaterThan(0);
    const health = await fetch(`${mux!.httpUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', service: 'stream-multiplexer', checks: { transport: { status: 'ok' }, 'transport-live': { status: 'ok' } } });
    const metrics = await (await fetch(`${mux!.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^deltaflow_kafka_consumer_ready\{group="deltaflow\.stream-multiplexer"\} 1$/m);
    expect(metrics).toMatch(/^deltaflow_superblocks_placed_total\{stream="S1"\} [1-9]\d*$/m); // from the RunPlaced it published
  });

  it('the scrub (SOV_SCRUB_INTERVAL_MS) verifies the finished volumes one at a time, each once before any again, without holding a writer', async () => {
    await mux?.stop();
    await start({ scrubIntervalMs: 150 });
    const full = [...new Set(events.messages.filter((e): e is MessageOfType<'VolumeFull'> => e.type === 'VolumeFull' && e.stream === 'S1').map((e) => e.volser))];
    expect(full.length).toBeGreaterThan(1);
    // a writer meanwhile: its file is placed and reads back while the scrub reads
    const w = await sov.openClientFile({ stream: 'S1', clientFile: 'during-scrub' });
    const data = content('during-scrub', 3 << 20);
    await w.write(data);
    const done = await w.finish();
    const scrubbed = () => events.messages.filter((e): e is MessageOfType<'VolumeVerified'> => e.type === 'VolumeVerified' && e.trigger === 'scrub');
    await events.waitFor(() => scrubbed().length >= full.length, 60_000, 'a scrub of every finished volume');
    const first = scrubbed().slice(0, full.length);
    expect(new Set(first.map((e) => e.volser)).size).toBe(full.length); // each once before any again
    for (const e of first) expect(e).toMatchObject({ stream: 'S1', status: 'full', ok: true, problems: [] });
    await events.waitFor((e) => e.type === 'ClientFileClosed' && e.incarnation === done.incarnation, 30_000, 'its close');
    const dev = new FileDevice({ dir: path.join(dir, 'tapes'), capacity: 1 << 30, readOnly: true });
    expect(sha256(await readBack(dev, opened(done.incarnation), runsOf(done.incarnation), closedOf(done.incarnation)))).toBe(sha256(data));
    await dev.unmount();
  });
});
