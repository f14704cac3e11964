import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { client, consumeUntil, eventually, uniqueName } from './kafka-helpers';
import { describeKcat, kcat } from './kcat';

/** librdkafka (through kcat) against the embedded broker: metadata, produce, consume, group consume. */
describeKcat('kcat (librdkafka) against the embedded broker', () => {
  let kafka: EmbeddedKafka;
  let dir: string;
  let bootstrap: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-kcat-'));
    kafka = await startEmbeddedKafka({ dataDir: dir });
    bootstrap = kafka.brokers[0];
  });
  afterAll(async () => {
    await kafka.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists metadata (-L) including a topic created by kafkajs', async () => {
    const topic = uniqueName('kl');
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    await admin.disconnect();
    const out = await kcat(['-b', bootstrap, '-L', '-t', topic]);
    expect(out).toContain(`topic "${topic}" with 3 partitions`);
    expect(out).toMatch(/broker 0 at 127\.0\.0\.1:\d+/);
  });

  it('produces with -P and kafkajs reads the lines back', async () => {
    const topic = uniqueName('kp');
    await kcat(['-b', bootstrap, '-P', '-t', topic, '-K', ':'], 'k1:one\nk2:two\nk3:three\n');
    const got = await consumeUntil(client(kafka.brokers), { groupId: uniqueName('g'), topic }, (g) => g.length >= 3);
    expect(got.map((m) => [m.key, m.value.toString()])).toEqual([
      ['k1', 'one'],
      ['k2', 'two'],
      ['k3', 'three'],
    ]);
  });

  it('consumes with -C what kafkajs produced', async () => {
    const topic = uniqueName('kc');
    const producer = client(kafka.brokers).producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'alpha' }, { value: 'beta' }, { value: 'gamma' }] });
    await producer.disconnect();
    const out = await kcat(['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%o:%s\n']);
    expect(out.trim().split('\n')).toEqual(['0:alpha', '1:beta', '2:gamma']);
  });

  it('consumes as a balanced group member (-G) and commits its offsets', async () => {
    const topic = uniqueName('kg');
    const group = uniqueName('kgroup');
    const producer = client(kafka.brokers).producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ value: `g${i}` })) });
    await producer.disconnect();
    const out = await kcat(['-b', bootstrap, '-G', group, '-o', 'beginning', '-c', '5', '-f', '%s\n', '-X', 'session.timeout.ms=6000', topic]);
    expect(out.trim().split('\n')).toEqual(['g0', 'g1', 'g2', 'g3', 'g4']);
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    await eventually(async () => (await admin.fetchOffsets({ groupId: group, topics: [topic] }))[0].partitions[0].offset === '5', 10000, 'kcat commit');
    await admin.disconnect();
  });
});
