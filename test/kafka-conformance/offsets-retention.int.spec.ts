import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { client, consumeUntil, eventually, FAST_GROUP, sleep, uniqueName } from './kafka-helpers';
import { commitStandalone } from './raw-socket';

/** Offsets retention (Kafka offsets.retention.minutes) with a short retention. */
describe('embedded broker: offsets retention', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-oret-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  async function groupView(kafka: EmbeddedKafka, groupId: string, topic: string) {
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    try {
      const listed = (await admin.listGroups()).groups.some((g) => g.groupId === groupId);
      const state = (await admin.describeGroups([groupId])).groups[0].state;
      const offset = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions[0].offset;
      return { listed, state, offset };
    } finally {
      await admin.disconnect();
    }
  }

  it('expires an EMPTY group after the retention, never a group with members, and a group once its members leave', async () => {
    const retention = 4000;
    const kafka = await startEmbeddedKafka({ dataDir: tempDir(), offsetsRetentionMs: retention, offsetsRetentionCheckIntervalMs: 200, logLevel: 'silent' });
    try {
      const k = client(kafka.brokers);
      const topic = uniqueName('ret');
      const producer = k.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
      await producer.disconnect();

      // B stays a member the whole time.
      const groupB = uniqueName('stays');
      const b = k.consumer({ groupId: groupB, ...FAST_GROUP });
      await b.connect();
      await b.subscribe({ topic, fromBeginning: true });
      let bSeen = 0;
      await b.run({ eachMessage: async () => void bSeen++ });
      await eventually(async () => bSeen === 3, 20000, 'B consuming');

      // A commits and leaves: Empty from then on.
      const groupA = uniqueName('leaves');
      await consumeUntil(k, { groupId: groupA, topic }, (g) => g.length >= 3);
      const leftAt = Date.now();
      expect(await groupView(kafka, groupA, topic)).toEqual({ listed: true, state: 'Empty', offset: '3' });
      await sleep(retention / 2);
      expect((await groupView(kafka, groupA, topic)).offset).toBe('3'); // not before its time
      await eventually(async () => !(await groupView(kafka, groupA, topic)).listed, retention + 5000, 'group A to expire');
      expect(Date.now() - leftAt).toBeGreaterThanOrEqual(retention - 100);
      expect(await groupView(kafka, groupA, topic)).toEqual({ listed: false, state: 'Dead', offset: '-1' });

      // B committed more than a retention ago but has members: kept.
      await eventually(async () => (await groupView(kafka, groupB, topic)).offset === '3', 10000, 'B commit');
      await sleep(retention + 600);
      expect(await groupView(kafka, groupB, topic)).toMatchObject({ listed: true, state: 'Stable', offset: '3' });
      await b.disconnect(); // leaves: Empty now, a retention from now it goes
      const bLeftAt = Date.now();
      expect(await groupView(kafka, groupB, topic)).toMatchObject({ listed: true, state: 'Empty', offset: '3' });
      await eventually(async () => !(await groupView(kafka, groupB, topic)).listed, retention + 5000, 'group B to expire');
      expect(Date.now() - bLeftAt).toBeGreaterThanOrEqual(retention - 100);
      // An expired group can come back and starts afresh.
      expect(await commitStandalone(kafka.port, groupA, topic, 1)).toBe(0);
      expect(await groupView(kafka, groupA, topic)).toEqual({ listed: true, state: 'Empty', offset: '1' });
    } finally {
      await kafka.stop();
    }
  }, 90_000);

  it('counts retention from the commit time stored in the journal, across a restart', async () => {
    const dir = tempDir();
    let kafka = await startEmbeddedKafka({ dataDir: dir, logLevel: 'silent' });
    const topic = uniqueName('ret2');
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic }] });
    await admin.disconnect();
    const old = uniqueName('old');
    expect(await commitStandalone(kafka.port, old, topic, 7)).toBe(0);
    await kafka.stop();
    await sleep(2500);
    kafka = await startEmbeddedKafka({ dataDir: dir, offsetsRetentionMs: 2000, offsetsRetentionCheckIntervalMs: 100, logLevel: 'silent' });
    try {
      const fresh = uniqueName('fresh');
      expect(await commitStandalone(kafka.port, fresh, topic, 9)).toBe(0);
      // `old` was committed 2.5 s ago by the previous process: gone at the first checks.
      await eventually(async () => (await groupView(kafka, old, topic)).state === 'Dead', 2000, 'the old group to expire');
      expect(await groupView(kafka, fresh, topic)).toEqual({ listed: true, state: 'Empty', offset: '9' });
    } finally {
      await kafka.stop();
    }
  }, 30_000);
});
