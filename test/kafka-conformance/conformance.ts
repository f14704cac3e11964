import { CompressionTypes, type Admin, type Kafka } from 'kafkajs';
import { client, consumeUntil, eventually, sleep, uniqueName, FAST_GROUP, type KafkaUnderTest } from './kafka-helpers';

/**
 * kafkajs behaviour every broker Deltaflow runs on must show. Written once, run against the
 * embedded broker and (when a Docker engine exists) a real Kafka in a container.
 */
export function describeKafkaConformance(name: string, factory: () => Promise<KafkaUnderTest>): void {
  describe(`kafka conformance: ${name}`, () => {
    let broker: KafkaUnderTest;
    let kafka: Kafka;
    let admin: Admin;

    beforeAll(async () => {
      broker = await factory();
      kafka = client(broker.brokers);
      admin = kafka.admin();
      await admin.connect();
    }, 180_000);

    afterAll(async () => {
      await admin?.disconnect();
      await broker?.stop();
    });

    async function newTopic(partitions = 1, configEntries: { name: string; value: string }[] = []): Promise<string> {
      const topic = uniqueName('conf');
      await expect(admin.createTopics({ topics: [{ topic, numPartitions: partitions, configEntries }], waitForLeaders: true })).resolves.toBe(true);
      return topic;
    }

    async function highWatermarks(topic: string): Promise<number[]> {
      const offs = await admin.fetchTopicOffsets(topic);
      return offs.sort((a, b) => a.partition - b.partition).map((o) => Number(o.high));
    }

    it('produces with acks -1, 1 and 0 and reads every message back in order', async () => {
      const topic = await newTopic();
      const producer = kafka.producer();
      await producer.connect();
      const all = await producer.send({ topic, acks: -1, messages: [{ key: 'a', value: 'all-1' }, { value: 'all-2' }] });
      expect(all[0]).toMatchObject({ errorCode: 0, baseOffset: '0' });
      const one = await producer.send({ topic, acks: 1, messages: [{ value: 'one-1' }] });
      expect(one[0]).toMatchObject({ errorCode: 0, baseOffset: '2' });
      await producer.send({ topic, acks: 0, messages: [{ value: 'none-1' }] });
      await producer.disconnect();
      await eventually(async () => (await highWatermarks(topic))[0] === 4, 10000, 'the acks=0 message');
      const got = await consumeUntil(kafka, { groupId: uniqueName('g'), topic }, (g) => g.length >= 4);
      expect(got.map((m) => m.value.toString())).toEqual(['all-1', 'all-2', 'one-1', 'none-1']);
      expect(got.map((m) => m.offset)).toEqual(['0', '1', '2', '3']);
      expect(got[0].key).toBe('a');
    });

    it('sends batches to several topics and partitions, gzip-compressed, with keys and headers intact', async () => {
      const t1 = await newTopic(3);
      const t2 = await newTopic(1);
      const producer = kafka.producer();
      await producer.connect();
      const msgs = (prefix: string, n: number) =>
        Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${i}`, value: `${prefix}-value-${i}`.repeat(20), headers: { idx: String(i) } }));
      const res = await producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.GZIP,
        topicMessages: [
          { topic: t1, messages: msgs('x', 60) },
          { topic: t2, messages: msgs('y', 25) },
        ],
      });
      await producer.disconnect();
      expect(res.every((r) => r.errorCode === 0)).toBe(true);
      expect((await highWatermarks(t1)).reduce((a, b) => a + b, 0)).toBe(60);
      expect(await highWatermarks(t2)).toEqual([25]);
      const got = await consumeUntil(kafka, { groupId: uniqueName('g'), topic: t1 }, (g) => g.length >= 60);
      expect(new Set(got.map((m) => m.key)).size).toBe(60);
      for (const m of got) {
        const i = Number(m.key!.split('-')[1]);
        expect(m.value.toString()).toBe(`x-value-${i}`.repeat(20));
        expect(m.headers.idx).toBe(String(i));
      }
      // Per partition, offsets are dense and increasing.
      for (let p = 0; p < 3; p++) {
        const offs = got.filter((m) => m.partition === p).map((m) => Number(m.offset));
        expect(offs).toEqual(offs.map((_, i) => i));
      }
    });

    it('consumer group resumes from committed offsets; fromBeginning=false starts at the end', async () => {
      const topic = await newTopic(2);
      const groupId = uniqueName('g');
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: String(i), value: `first-${i}` })) });
      const first = await consumeUntil(kafka, { groupId, topic }, (g) => g.length >= 10);
      expect(first).toHaveLength(10);
      await producer.send({ topic, messages: Array.from({ length: 4 }, (_, i) => ({ key: String(i), value: `second-${i}` })) });
      const second = await consumeUntil(kafka, { groupId, topic }, (g) => g.length >= 4);
      expect(second.map((m) => m.value.toString()).sort()).toEqual(['second-0', 'second-1', 'second-2', 'second-3']);
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = offsets[0].partitions.reduce((a, p) => a + Number(p.offset), 0);
      expect(committed).toBe(14);
      // A new group that does not start from the beginning sees only later messages.
      const late = uniqueName('g');
      const received = await consumeUntil(
        kafka,
        { groupId: late, topic, fromBeginning: false },
        (g) => g.length >= 1,
        async (c) => {
          // After the first completed fetch the consumer's start offset (the end) is resolved.
          await new Promise((resolve) => c.on(c.events.FETCH, resolve));
          await producer.send({ topic, messages: [{ value: 'after-start' }] });
        },
      );
      expect(received.map((m) => m.value.toString())).toEqual(['after-start']);
      await producer.disconnect();
    });

    it('long-poll fetch delivers a message produced while the consumer waits', async () => {
      const topic = await newTopic();
      const consumer = kafka.consumer({ groupId: uniqueName('g'), ...FAST_GROUP, maxWaitTimeInMs: 3000 });
      const producer = kafka.producer();
      await Promise.all([consumer.connect(), producer.connect()]);
      await consumer.subscribe({ topic, fromBeginning: true });
      const got = new Promise<string>((resolve) => void consumer.run({ eachMessage: async ({ message }) => resolve(message.value!.toString()) }));
      await sleep(2000); // the consumer is now parked in a long-poll fetch
      await producer.send({ topic, messages: [{ value: 'wake-up' }] });
      await expect(got).resolves.toBe('wake-up');
      await Promise.all([consumer.disconnect(), producer.disconnect()]);
    });

    it('seek moves a running consumer; pause and resume stop and restart delivery', async () => {
      const topic = await newTopic();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
      const consumer = kafka.consumer({ groupId: uniqueName('g'), ...FAST_GROUP });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const seen: string[] = [];
      let sought = false;
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
          if (seen.length === 10 && !sought) {
            sought = true;
            consumer.seek({ topic, partition: 0, offset: '7' });
          }
        },
      });
      await eventually(async () => seen.length >= 13, 20000, 'messages after the seek');
      expect(seen.slice(10, 13)).toEqual(['m7', 'm8', 'm9']);
      consumer.pause([{ topic }]);
      expect(consumer.paused()).toEqual([{ topic, partitions: [0] }]);
      await sleep(500);
      const before = seen.length;
      await producer.send({ topic, messages: [{ value: 'while-paused' }] });
      await sleep(2000);
      expect(seen.length).toBe(before);
      consumer.resume([{ topic }]);
      await eventually(async () => seen.includes('while-paused'), 20000, 'the message after resume');
      await Promise.all([consumer.disconnect(), producer.disconnect()]);
    });

    it('admin: create, describe, grow, list offsets, reset offsets, list/describe groups, delete', async () => {
      const topic = uniqueName('adm');
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })).toBe(true);
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })).toBe(false);
      expect(await admin.listTopics()).toContain(topic);
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(md.topics[0].partitions.map((p) => p.partitionId).sort()).toEqual([0, 1]);
      await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
      await eventually(async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length === 3, 10000, 'three partitions');
      await expect(admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] })).rejects.toThrow();

      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: Array.from({ length: 9 }, (_, i) => ({ partition: i % 3, value: `v${i}` })) });
      await producer.disconnect();
      const offs = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
      expect(offs.map((o) => [o.low, o.high])).toEqual([['0', '3'], ['0', '3'], ['0', '3']]);

      const groupId = uniqueName('g');
      await consumeUntil(kafka, { groupId, topic }, (g) => g.length >= 9);
      const fetched = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(fetched[0].partitions.map((p) => p.offset).sort()).toEqual(['3', '3', '3']);
      expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(groupId);
      const described = await admin.describeGroups([groupId]);
      expect(described.groups[0]).toMatchObject({ groupId, state: 'Empty', protocolType: 'consumer' });
      await admin.resetOffsets({ groupId, topic, earliest: true });
      // kafkajs commits the -2 (earliest) sentinel; the broker stores it as given, like Kafka.
      const reset = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(reset[0].partitions.map((p) => p.offset)).toEqual(['-2', '-2', '-2']);
      await admin.setOffsets({ groupId, topic, partitions: [{ partition: 1, offset: '2' }] });
      const set = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(set[0].partitions.find((p) => p.partition === 1)!.offset).toBe('2');
      const unknown = await admin.describeGroups([uniqueName('nobody')]);
      expect(unknown.groups[0].state).toBe('Dead');

      await admin.deleteTopics({ topics: [topic] });
      await eventually(async () => !(await admin.listTopics()).includes(topic), 10000, 'topic deletion');
    });

    it('idempotent producer: sequences accepted in order, offsets dense', async () => {
      const topic = await newTopic(2);
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      for (let i = 0; i < 5; i++) {
        const res = await producer.send({ topic, acks: -1, messages: [{ partition: i % 2, value: `idem-${i}` }, { partition: i % 2, value: `idem-${i}-b` }] });
        expect(res[0].errorCode).toBe(0);
      }
      await producer.disconnect();
      expect(await highWatermarks(topic)).toEqual([6, 4]);
      const got = await consumeUntil(kafka, { groupId: uniqueName('g'), topic }, (g) => g.length >= 10);
      expect(got.filter((m) => m.partition === 0).map((m) => m.value.toString())).toEqual(['idem-0', 'idem-0-b', 'idem-2', 'idem-2-b', 'idem-4', 'idem-4-b']);
    });

    it('admin.deleteTopicRecords moves the low watermark; a new group fromBeginning starts there', async () => {
      const topic = await newTopic();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: Array.from({ length: 8 }, (_, i) => ({ value: `d${i}` })) });
      await producer.disconnect();
      await admin.fetchTopicMetadata({ topics: [topic] }); // kafkajs needs it loaded for deleteTopicRecords
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '5' }] });
      expect(await admin.fetchTopicOffsets(topic)).toEqual([{ partition: 0, offset: '8', high: '8', low: '5' }]);
      const got = await consumeUntil(kafka, { groupId: uniqueName('g'), topic }, (g) => g.length >= 3);
      expect(got.map((m) => [m.offset, m.value.toString()])).toEqual([
        ['5', 'd5'],
        ['6', 'd6'],
        ['7', 'd7'],
      ]);
    });

    it('round-trips a 2 MiB message', async () => {
      const topic = await newTopic(1, [{ name: 'max.message.bytes', value: String(8 * 1024 * 1024) }]);
      const big = Buffer.alloc(2 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ value: big }, { value: 'small-after' }] });
      await producer.disconnect();
      const got = await consumeUntil(kafka, { groupId: uniqueName('g'), topic }, (g) => g.length >= 2);
      expect(got[0].value.equals(big)).toBe(true);
      expect(got[1].value.toString()).toBe('small-after');
    });
  });
}
