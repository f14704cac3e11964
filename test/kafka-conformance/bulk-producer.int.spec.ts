/**
 * The lean bulk producer (libs/service-kit BulkProducer) speaks Kafka's Produce v3 + RecordBatch v2
 * by hand: what it writes must read back with kafkajs and with librdkafka (kcat, CRC checks on),
 * the broker's error codes must map as kafkajs maps them, and a broker killed -9 mid-write must
 * cost no acknowledged record.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { BulkProducer, type BulkRecord } from '@deltaflow/service-kit';
import { startBrokerProcess } from './broker-process';
import { client, consumeUntil, uniqueName } from './kafka-helpers';
import { hasKcat, kcat } from './kcat';

jest.setTimeout(120_000);

const bytes = (n: number, seed: number) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761 + seed * 40503) >>> 24;
  return b;
};

describe('BulkProducer against the embedded broker', () => {
  let kafka: EmbeddedKafka;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-bulk-'));
    kafka = await startEmbeddedKafka({ dataDir: dir });
  });
  afterAll(async () => {
    await kafka.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function topic(prefix: string, partitions = 1, configEntries: Array<{ name: string; value: string }> = []): Promise<string> {
    const t = uniqueName(prefix);
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: t, numPartitions: partitions, configEntries }] });
    await admin.disconnect();
    return t;
  }

  it('writes records that kafkajs reads back byte-identical: keys, multi-part values (known CRCs or not), headers, offsets', async () => {
    const t = await topic('bulk-rt');
    const p = await BulkProducer.connect({ kafka: client(kafka.brokers), clientId: 'bulk-test', topic: t, partition: 0 });
    const big = bytes(256 * 1024, 1);
    const requests: BulkRecord[][] = [
      [
        { key: 'S1', value: [Buffer.from('head-0'), big], valueCrcs: [undefined, crc32c(big)], headers: { 'df-type': 'Superblock', 'df-version': '2' } },
        { key: null, value: [Buffer.from('small value')] },
        { key: 'S1', value: [bytes(5000, 2), bytes(70_000, 3)], headers: {} },
      ],
      [{ key: 'ünï', value: [Buffer.alloc(0)], headers: { a: '', b: 'β' } }],
      Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, value: [bytes(300_000 + i, 10 + i)], valueCrcs: [crc32c(bytes(300_000 + i, 10 + i))] })),
    ];
    // pipelined: all three requests in flight on the one connection
    const offsets = await Promise.all(requests.map((r) => p.send(r)));
    await p.close();
    expect(offsets).toEqual([0n, 3n, 4n]);
    const expected = requests.flat();
    const got = await consumeUntil(client(kafka.brokers), { groupId: uniqueName('g'), topic: t }, (g) => g.length >= expected.length);
    expect(got).toHaveLength(expected.length);
    got.forEach((m, i) => {
      expect(m.offset).toBe(String(i));
      expect(m.key).toBe(expected[i].key);
      expect(m.value.equals(Buffer.concat([...expected[i].value]))).toBe(true);
      expect(m.headers).toEqual(expected[i].headers ?? {});
    });
  });

  (hasKcat ? it : it.skip)('writes records that librdkafka (kcat, check.crcs=true) reads back: keys, values, headers', async () => {
    const t = await topic('bulk-kcat');
    const p = await BulkProducer.connect({ kafka: client(kafka.brokers), clientId: 'bulk-test', topic: t, key: 'any' });
    const value = Buffer.concat([Buffer.from('payload-'), Buffer.alloc(5000, 0x41)]);
    await p.send([
      { key: 'k0', value: [Buffer.from('payload-'), Buffer.alloc(5000, 0x41)], valueCrcs: [undefined, crc32c(Buffer.alloc(5000, 0x41))], headers: { h: 'v0' } },
      { key: 'k1', value: [Buffer.from('second')], headers: { h: 'v1' } },
    ]);
    await p.close();
    const out = await kcat(['-b', kafka.brokers[0], '-C', '-t', t, '-o', 'beginning', '-e', '-X', 'check.crcs=true', '-f', '%o|%k|%S|%h|%s\n']);
    expect(out.split('\n').filter(Boolean)).toEqual([`0|k0|${value.length}|h=v0|${value.toString()}`, '1|k1|6|h=v1|second']);
  });

  it('takes the partition kafkajs would give the key (DefaultPartitioner)', async () => {
    const t = await topic('bulk-part', 6);
    const k = client(kafka.brokers);
    const kp = k.producer();
    await kp.connect();
    for (const key of ['NIGHTLY', 'S1', 'E2E', 'BENCH']) {
      const [{ partition }] = await kp.send({ topic: t, messages: [{ key, value: 'x' }] });
      const p = await BulkProducer.connect({ kafka: k, clientId: 'bulk-test', topic: t, key });
      expect(p.partition).toBe(partition);
      await p.close();
    }
    await kp.disconnect();
  });

  it('refuses at once what the broker refuses for good (MESSAGE_TOO_LARGE), naming the error, and stores nothing', async () => {
    const t = await topic('bulk-big', 1, [{ name: 'max.message.bytes', value: String(64 * 1024) }]);
    const p = await BulkProducer.connect({ kafka: client(kafka.brokers), clientId: 'bulk-test', topic: t, partition: 0, retries: 3 });
    await expect(p.send([{ key: null, value: [bytes(100_000, 5)] }])).rejects.toThrow(/MESSAGE_TOO_LARGE \(10\)/);
    // the connection stays usable
    expect(await p.send([{ key: null, value: [Buffer.from('fits')] }])).toBe(0n);
    await p.close();
  });

  it('refuses an empty request and a topic that does not exist, with the reason', async () => {
    const t = await topic('bulk-empty');
    const p = await BulkProducer.connect({ kafka: client(kafka.brokers), clientId: 'bulk-test', topic: t, partition: 0 });
    await expect(p.send([])).rejects.toThrow(/at least one record/);
    await p.close();
    await expect(BulkProducer.connect({ kafka: client(kafka.brokers), clientId: 'bulk-test', topic: uniqueName('missing'), partition: 0 })).rejects.toThrow(/must exist/);
    await expect(BulkProducer.connect({ kafka: client(kafka.brokers), clientId: 'bulk-test', topic: t, partition: 0, sasl: { mechanism: 'plain' } })).rejects.toThrow(/no SASL/);
  });
});

describe('BulkProducer and a broker killed -9 mid-write', () => {
  it('retries on the restarted broker: every acknowledged record is there, in a readable log', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-bulk-kill-'));
    let broker = await startBrokerProcess(dir, ['--fsync', 'always']);
    const brokers = [`127.0.0.1:${broker.port}`];
    try {
      const k = client(brokers);
      const admin = k.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'bulk-kill', numPartitions: 1 }] });
      await admin.disconnect();
      const p = await BulkProducer.connect({ kafka: k, clientId: 'bulk-test', topic: 'bulk-kill', partition: 0, retries: 30, retryBackoffMs: 100, requestTimeoutMs: 10_000 });
      const acked = new Set<number>();
      const failed: string[] = [];
      const value = (i: number) => Buffer.concat([Buffer.from(`rec-${i}:`), bytes(32 * 1024, i)]);
      let next = 0;
      const writers = Array.from({ length: 4 }, async () => {
        while (next < 200) {
          const i = next++;
          try {
            await p.send([{ key: null, value: [value(i)] }]);
            acked.add(i);
          } catch (e) {
            failed.push(`${i}: ${(e as Error).message}`);
          }
        }
      });
      // kill -9 once some records are acknowledged, restart on the same port and data directory
      while (acked.size < 20) await new Promise((r) => setTimeout(r, 20));
      await broker.kill9();
      const ackedAtKill = acked.size;
      await new Promise((r) => setTimeout(r, 500));
      broker = await startBrokerProcess(dir, ['--fsync', 'always', '--port', String(broker.port)]);
      await Promise.all(writers);
      await p.close();
      expect(failed).toEqual([]);
      expect(acked.size).toBe(200);
      expect(ackedAtKill).toBeLessThan(200);
      // every acknowledged record is in the log (a retried one may be there twice), byte-identical
      const got = await consumeUntil(client(brokers), { groupId: uniqueName('g'), topic: 'bulk-kill', timeoutMs: 60_000 }, (g) => new Set(g.map((m) => m.value.toString('latin1', 0, 12).split(':')[0])).size >= 200);
      const seen = new Map<number, Buffer>();
      for (const m of got) {
        const i = Number(/^rec-(\d+):/.exec(m.value.toString('latin1', 0, 16))![1]);
        expect(m.value.equals(value(i))).toBe(true);
        seen.set(i, m.value);
      }
      for (const i of acked) expect(seen.has(i)).toBe(true);
    } finally {
      await broker.stop().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
