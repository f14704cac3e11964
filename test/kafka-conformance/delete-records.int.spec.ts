import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { client, consumeUntil, eventually, sleep, uniqueName } from './kafka-helpers';
import { hasKcat, kcat } from './kcat';
import { commitStandalone, rawExchange } from './raw-socket';

const encodeRequest = require('kafkajs/src/protocol/request');
const fetchRequestV11 = require('kafkajs/src/protocol/requests/fetch/v11/request');
const fetchResponseV11 = require('kafkajs/src/protocol/requests/fetch/v11/response');
const deleteRecordsRequestV1 = require('kafkajs/src/protocol/requests/deleteRecords/v1/request');
const deleteRecordsResponseV1 = require('kafkajs/src/protocol/requests/deleteRecords/v1/response');

const BASE_TS = 1_700_000_000_000;

/** Fetch v11 (what kafkajs sends) of one partition at `offset`, decoded by kafkajs. */
async function fetchAt(kafka: EmbeddedKafka, topic: string, offset: number) {
  const request = fetchRequestV11({ replicaId: -1, maxWaitTime: 10, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: String(offset), maxBytes: 1 << 20 }] }] });
  const encoded: Buffer = (await encodeRequest({ correlationId: 11, clientId: 'fetch-test', request })).buffer;
  const { responses } = await rawExchange(kafka.port, encoded, { frames: 1 });
  return (await fetchResponseV11.decode(responses[0].subarray(4))).responses[0].partitions[0] as {
    errorCode: number;
    highWatermark: string;
    lastStartOffset: string;
    messages: { offset: string; value: Buffer }[];
  };
}

/** DeleteRecords v1 on a raw socket: the partition result (kafkajs's admin throws on errors). */
async function deleteRecordsRaw(kafka: EmbeddedKafka, topic: string, partition: number, offset: number) {
  const request = deleteRecordsRequestV1({ topics: [{ topic, partitions: [{ partition, offset: String(offset) }] }], timeout: 1000 });
  const encoded: Buffer = (await encodeRequest({ correlationId: 12, clientId: 'dr-test', request })).buffer;
  const { responses } = await rawExchange(kafka.port, encoded, { frames: 1 });
  return (await deleteRecordsResponseV1({ topics: [] }).decode(responses[0].subarray(4))).topics[0].partitions[0] as { lowWatermark: bigint; errorCode: number };
}

/** Base offsets of the segment files of partition 0. */
function segmentBases(dataDir: string, topic: string): number[] {
  return fs
    .readdirSync(path.join(dataDir, 'topics', topic, '0'))
    .filter((f) => /^\d{20}\.log$/.test(f))
    .map((f) => Number(f.slice(0, 20)))
    .sort((a, b) => a - b);
}

describe('DeleteRecords and the log start offset', () => {
  let dir: string;
  let kafka: EmbeddedKafka;
  const topic = uniqueName('dr');
  const laggard = uniqueName('laggard');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-dr-'));
    kafka = await startEmbeddedKafka({ dataDir: dir, logLevel: 'silent' });
    const k = client(kafka.brokers);
    const admin = k.admin();
    await admin.connect();
    // Small segments: 30 one-record batches spread over several segment files.
    await admin.createTopics({ topics: [{ topic, configEntries: [{ name: 'segment.bytes', value: '400' }] }] });
    await admin.disconnect();
    const producer = k.producer();
    await producer.connect();
    for (let i = 0; i < 30; i++) await producer.send({ topic, acks: -1, messages: [{ value: `m${i}`, timestamp: String(BASE_TS + i * 1000) }] });
    await producer.disconnect();
    expect(await commitStandalone(kafka.port, laggard, topic, 5)).toBe(0); // a group left behind at 5
  });
  afterAll(async () => {
    await kafka.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('kafkajs admin.deleteTopicRecords moves low; fetchTopicOffsets low/high follow; whole segments below are deleted', async () => {
    const before = segmentBases(dir, topic);
    expect(before.length).toBeGreaterThan(3);
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    // kafkajs quirk (real Kafka too): deleteTopicRecords needs the topic's metadata already loaded.
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '17' }] });
    expect(await admin.fetchTopicOffsets(topic)).toEqual([{ partition: 0, offset: '30', high: '30', low: '17' }]);
    await admin.disconnect();
    const after = segmentBases(dir, topic);
    expect(after[0]).toBeLessThanOrEqual(17); // the segment holding 17 stays
    expect(after.length).toBeGreaterThan(1);
    expect(after[1]).toBeGreaterThan(17); // ... and it is the only one starting at or below 17
    expect(before.filter((b) => b < after[0]).length).toBeGreaterThan(0); // some segments were removed from disk
  });

  it('Fetch below the log start answers OFFSET_OUT_OF_RANGE; at it, records from 17 and log_start_offset 17', async () => {
    const below = await fetchAt(kafka, topic, 3);
    expect(below).toMatchObject({ errorCode: 1, highWatermark: '30', lastStartOffset: '17' });
    const at = await fetchAt(kafka, topic, 17);
    expect(at).toMatchObject({ errorCode: 0, highWatermark: '30', lastStartOffset: '17' });
    expect(at.messages.filter((m) => Number(m.offset) >= 17)[0]).toMatchObject({ offset: '17' });
    expect(at.messages.find((m) => m.offset === '17')!.value.toString()).toBe('m17');
  });

  it('consumer groups start at the new log start: a new group fromBeginning, and a group committed below it (reset by kafkajs)', async () => {
    const k = client(kafka.brokers);
    const fresh = await consumeUntil(k, { groupId: uniqueName('g'), topic }, (g) => g.length >= 13);
    expect(fresh.map((m) => m.offset)).toEqual(Array.from({ length: 13 }, (_, i) => String(17 + i)));
    const reset = await consumeUntil(k, { groupId: laggard, topic }, (g) => g.length >= 13);
    expect(reset[0]).toMatchObject({ offset: '17' });
    expect(reset.map((m) => m.value.toString())).toContain('m29');
  });

  it('ListOffsets by timestamp: first offset at or after the log start whose batch has a timestamp >= t', async () => {
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, BASE_TS + 20_000)).toEqual([{ partition: 0, offset: '20' }]);
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, BASE_TS + 20_500)).toEqual([{ partition: 0, offset: '21' }]);
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, BASE_TS + 3_000)).toEqual([{ partition: 0, offset: '17' }]); // deleted: the start
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, BASE_TS + 99_000)).toEqual([{ partition: 0, offset: '30' }]); // none: -1, kafkajs shows high
    await admin.disconnect();
  });

  (hasKcat ? it : it.skip)('kcat: -o beginning starts at the log start; -Q and -o s@ find offsets by timestamp', async () => {
    const out = await kcat(['-b', kafka.brokers[0], '-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%o:%s\n']);
    expect(out.trim().split('\n')[0]).toBe('17:m17');
    expect(out.trim().split('\n')).toHaveLength(13);
    const q = await kcat(['-b', kafka.brokers[0], '-Q', '-t', `${topic}:0:${BASE_TS + 25_000}`]);
    expect(q).toMatch(new RegExp(`${topic} \\[0\\] offset 25`));
    const fromTs = await kcat(['-b', kafka.brokers[0], '-C', '-t', topic, '-o', `s@${BASE_TS + 27_000}`, '-e', '-f', '%o:%s\n']);
    expect(fromTs.trim().split('\n')).toEqual(['27:m27', '28:m28', '29:m29']);
  });

  it('refuses an offset past the high watermark with OFFSET_OUT_OF_RANGE and changes nothing; a lower one is a no-op', async () => {
    expect(await deleteRecordsRaw(kafka, topic, 0, 31)).toEqual({ partition: 0, lowWatermark: -1n, errorCode: 1 });
    expect(await deleteRecordsRaw(kafka, topic, 0, -7)).toMatchObject({ errorCode: 1 });
    expect(await deleteRecordsRaw(kafka, topic, 0, 4)).toEqual({ partition: 0, lowWatermark: 17n, errorCode: 0 });
    expect(await deleteRecordsRaw(kafka, uniqueName('nope'), 0, 4)).toMatchObject({ errorCode: 3 });
    expect((await fetchAt(kafka, topic, 17)).lastStartOffset).toBe('17');
  });

  it('keeps the log start offset (inside a segment) across a restart, then -1 deletes everything and frees the space', async () => {
    await kafka.stop();
    kafka = await startEmbeddedKafka({ dataDir: dir, logLevel: 'silent' });
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    expect(await admin.fetchTopicOffsets(topic)).toEqual([{ partition: 0, offset: '30', high: '30', low: '17' }]);
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '-1' }] });
    expect(await admin.fetchTopicOffsets(topic)).toEqual([{ partition: 0, offset: '30', high: '30', low: '30' }]);
    expect(segmentBases(dir, topic)).toEqual([30]);
    expect(fs.statSync(path.join(dir, 'topics', topic, '0', `${'30'.padStart(20, '0')}.log`)).size).toBe(0);
    // Producing continues at 30 and a fresh group reads only that.
    const producer = client(kafka.brokers).producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'after' }] });
    await producer.disconnect();
    const got = await consumeUntil(client(kafka.brokers), { groupId: uniqueName('g'), topic }, (g) => g.length >= 1);
    expect(got.map((m) => [m.offset, m.value.toString()])).toEqual([['30', 'after']]);
    await admin.disconnect();
  });
});

describe('topic retention moves the log start offset', () => {
  it('retention.bytes deletes old segments; low follows and survives a restart; consumers start there', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-ret-'));
    let kafka = await startEmbeddedKafka({ dataDir: dir, logRetentionCheckIntervalMs: 100, logLevel: 'silent' });
    try {
      const topic = uniqueName('rb');
      const k = client(kafka.brokers);
      const admin = k.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic, configEntries: [{ name: 'segment.bytes', value: '400' }, { name: 'retention.bytes', value: '800' }] }],
      });
      const producer = k.producer();
      await producer.connect();
      for (let i = 0; i < 30; i++) await producer.send({ topic, messages: [{ value: `r${i}` }] });
      await producer.disconnect();
      await eventually(async () => Number((await admin.fetchTopicOffsets(topic))[0].low) > 0, 10000, 'retention to move low');
      await sleep(500); // a pass may have run while producing: let later passes settle
      const low = (await admin.fetchTopicOffsets(topic))[0].low;
      expect(segmentBases(dir, topic)[0]).toBe(Number(low));
      await admin.disconnect();
      const got = await consumeUntil(k, { groupId: uniqueName('g'), topic }, (g) => g.some((m) => m.value.toString() === 'r29'));
      expect(got[0].offset).toBe(low);
      await kafka.stop();
      kafka = await startEmbeddedKafka({ dataDir: dir, logLevel: 'silent' });
      const again = client(kafka.brokers).admin();
      await again.connect();
      expect((await again.fetchTopicOffsets(topic))[0]).toMatchObject({ low, high: '30' });
      await again.disconnect();
    } finally {
      await kafka.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
