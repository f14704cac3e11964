import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { client, consumeUntil, uniqueName } from './kafka-helpers';
import { commitStandalone, frame, rawExchange } from './raw-socket';
import { ROOT, startBrokerProcess } from './broker-process';

const produceRequestV3 = require('kafkajs/src/protocol/requests/produce/v3/request');
const produceResponseV3 = require('kafkajs/src/protocol/requests/produce/v3/response');
const encodeRequest = require('kafkajs/src/protocol/request');
const createTopicsRequestV1 = require('kafkajs/src/protocol/requests/createTopics/v1/request');
const createTopicsResponseV1 = require('kafkajs/src/protocol/requests/createTopics/v1/response');

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe('embedded broker: bad input, integrity', () => {
  let kafka: EmbeddedKafka;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('ek-bad-');
    kafka = await startEmbeddedKafka({ dataDir: dir, maxFrameBytes: 1024 * 1024, logLevel: 'error' });
  });
  afterAll(async () => {
    await kafka.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function stillServes(): Promise<void> {
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    const topic = uniqueName('alive');
    await admin.createTopics({ topics: [{ topic }] });
    expect(await admin.listTopics()).toContain(topic);
    await admin.disconnect();
  }

  it('closes a connection that sends garbage, an oversize or negative frame size, or a truncated request', async () => {
    expect((await rawExchange(kafka.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).closedByBroker).toBe(true);
    const oversize = Buffer.alloc(4);
    oversize.writeInt32BE(1024 * 1024 + 1, 0);
    expect((await rawExchange(kafka.port, oversize)).closedByBroker).toBe(true);
    const negative = Buffer.alloc(4);
    negative.writeInt32BE(-5, 0);
    expect((await rawExchange(kafka.port, negative)).closedByBroker).toBe(true);
    // Metadata v1 claiming 1000 topic names with no bytes behind them.
    const count = Buffer.alloc(4);
    count.writeInt32BE(1000, 0);
    const truncated = await rawExchange(kafka.port, frame(3, 1, 7, count));
    expect(truncated).toEqual({ closedByBroker: true, responses: [] });
    await stillServes();
  });

  it('keeps serving after fuzzed frames (random headers and bodies for every implemented API)', async () => {
    const fc = await import('fast-check');
    const keys = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 36, 37, 42];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), fc.integer({ min: 0, max: 11 }), fc.uint8Array({ maxLength: 64 }), async (key, version, body) => {
        const r = await rawExchange(kafka.port, frame(key, version, 1, Buffer.from(body)), { frames: 1, timeoutMs: 1000 });
        // Either an answer with our correlation id, a close, or a parked request (fetch/join).
        for (const res of r.responses) expect(res.readInt32BE(0)).toBe(1);
      }),
      { numRuns: 150, seed: 20261122 },
    );
    const { responses } = await rawExchange(kafka.port, frame(18, 2, 77, Buffer.alloc(0)), { frames: 1 });
    expect(responses[0].readInt32BE(0)).toBe(77);
    await stillServes();
  }, 120_000);

  it('answers an unknown API key and a too-new ApiVersions with UNSUPPORTED_VERSION (35), in order', async () => {
    const bytes = Buffer.concat([frame(999, 0, 1, Buffer.alloc(0)), frame(18, 9, 2, Buffer.alloc(0)), frame(18, 0, 3, Buffer.alloc(0))]);
    const { responses } = await rawExchange(kafka.port, bytes, { frames: 3 });
    expect(responses.map((r) => r.readInt32BE(0))).toEqual([1, 2, 3]);
    expect(responses[0].readInt16BE(4)).toBe(35);
    expect(responses[1].readInt16BE(4)).toBe(35);
    expect(responses[1].readInt32BE(6)).toBeGreaterThan(10); // the v0 list of supported ranges
    expect(responses[2].readInt16BE(4)).toBe(0);
  });

  it('answers in request order when a long-poll fetch is parked before a quick request, and reassembles split frames', async () => {
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    const topic = uniqueName('order');
    await admin.createTopics({ topics: [{ topic }] });
    await admin.disconnect();
    const fetch = frame(1, 4, 1, fetchV4Body(topic, 800));
    const quick = frame(18, 0, 2, Buffer.alloc(0));
    const { responses } = await rawExchange(kafka.port, Buffer.concat([fetch, quick]), { frames: 2, timeoutMs: 5000 });
    expect(responses.map((r) => r.readInt32BE(0))).toEqual([1, 2]);

    const net = await import('node:net');
    const bytes = frame(18, 1, 3, Buffer.alloc(0));
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(kafka.port, '127.0.0.1', async () => {
        for (const b of bytes) {
          s.write(Buffer.from([b]));
          await new Promise((r) => setTimeout(r, 2));
        }
      });
      let got = Buffer.alloc(0);
      s.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
          s.destroy();
          resolve(got.subarray(4));
        }
      });
      s.on('error', reject);
    });
    expect(answer.readInt32BE(0)).toBe(3);
    expect(answer.readInt16BE(4)).toBe(0);
  });

  it('survives a client that vanishes mid-request or while its fetch is parked', async () => {
    const half = frame(18, 0, 1, Buffer.alloc(0)).subarray(0, 9);
    await rawExchange(kafka.port, half, { destroyAfterWrite: true });
    // Fetch v4 long-poll (10 s) on an empty topic, then the client disappears.
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    const topic = uniqueName('vanish');
    await admin.createTopics({ topics: [{ topic }] });
    await admin.disconnect();
    const body = fetchV4Body(topic, 10000);
    const r = await rawExchange(kafka.port, frame(1, 4, 5, body), { timeoutMs: 500 });
    expect(r.responses).toEqual([]); // parked, then we left
    await stillServes();
  });

  it('rejects a batch with a wrong CRC with CORRUPT_MESSAGE (2) and stores nothing', async () => {
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    const topic = uniqueName('crc');
    await admin.createTopics({ topics: [{ topic }] });
    const request = produceRequestV3({ acks: -1, timeout: 5000, topicData: [{ topic, partitions: [{ partition: 0, messages: [{ key: 'k', value: 'payload-to-corrupt' }] }] }] });
    const encoded: Buffer = (await encodeRequest({ correlationId: 42, clientId: 'crc-test', request })).buffer;
    const bad = Buffer.from(encoded);
    bad[bad.length - 3] ^= 0xff; // inside the record value, covered by the CRC
    const { responses } = await rawExchange(kafka.port, bad, { frames: 1 });
    expect(responses[0].readInt32BE(0)).toBe(42);
    const decoded = await produceResponseV3.decode(responses[0].subarray(4));
    expect(decoded.topics[0].partitions[0].errorCode).toBe(2);
    expect((await admin.fetchTopicOffsets(topic))[0].high).toBe('0');
    // The intact request is accepted on the same kind of connection.
    const ok = await rawExchange(kafka.port, encoded, { frames: 1 });
    expect((await produceResponseV3.decode(ok.responses[0].subarray(4))).topics[0].partitions[0].errorCode).toBe(0);
    expect((await admin.fetchTopicOffsets(topic))[0].high).toBe('1');
    await admin.disconnect();
  });

  it('answers a retried idempotent batch with its original offset and stores it once', async () => {
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    const topic = uniqueName('dup');
    await admin.createTopics({ topics: [{ topic }] });
    const Long = require('kafkajs/src/utils/long');
    const batch = (firstSequence: number, value: string) =>
      produceRequestV3({
        acks: -1,
        timeout: 5000,
        producerId: Long.fromNumber(777),
        producerEpoch: 0,
        topicData: [{ topic, partitions: [{ partition: 0, firstSequence, messages: [{ value }] }] }],
      });
    const send = async (req: unknown, correlationId: number) => {
      const encoded: Buffer = (await encodeRequest({ correlationId, clientId: 'idem', request: req })).buffer;
      const { responses } = await rawExchange(kafka.port, encoded, { frames: 1 });
      return (await produceResponseV3.decode(responses[0].subarray(4))).topics[0].partitions[0];
    };
    expect(await send(batch(0, 'a'), 1)).toMatchObject({ errorCode: 0, baseOffset: '0' });
    expect(await send(batch(1, 'b'), 2)).toMatchObject({ errorCode: 0, baseOffset: '1' });
    expect(await send(batch(1, 'b'), 3)).toMatchObject({ errorCode: 0, baseOffset: '1' }); // retry of the same batch
    expect(await send(batch(5, 'gap'), 4)).toMatchObject({ errorCode: 45 }); // OUT_OF_ORDER_SEQUENCE_NUMBER
    expect((await admin.fetchTopicOffsets(topic))[0].high).toBe('2');
    await admin.disconnect();
  });

  it('refuses cleanup.policy=compact with INVALID_CONFIG and a clear message; honours retention configs', async () => {
    const admin = client(kafka.brokers).admin();
    await admin.connect();
    const topic = uniqueName('compact');
    const err = await admin.createTopics({ topics: [{ topic, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] }).catch((e) => e);
    expect(err.errors?.[0]?.type).toBe('INVALID_CONFIG');
    // kafkajs drops the error message; read it with CreateTopics v1 on a raw socket.
    const request = createTopicsRequestV1({ topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
    const encoded: Buffer = (await encodeRequest({ correlationId: 9, clientId: 'cfg-test', request })).buffer;
    const { responses } = await rawExchange(kafka.port, encoded, { frames: 1 });
    const decoded = await createTopicsResponseV1.decode(responses[0].subarray(4));
    expect(decoded.topicErrors[0]).toMatchObject({ errorCode: 40, errorMessage: expect.stringMatching(/cleanup\.policy=compact is not supported/) });
    expect(await admin.listTopics()).not.toContain(topic);
    const kept = uniqueName('retained');
    await admin.createTopics({
      topics: [{ topic: kept, configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'retention.bytes', value: '1048576' }] }],
    });
    expect(await admin.listTopics()).toContain(kept);
    await admin.disconnect();
  });
});

describe('embedded broker: topic auto-creation options', () => {
  it('auto-creates with numPartitions when enabled, and answers UNKNOWN_TOPIC_OR_PARTITION when disabled', async () => {
    const dirOn = tempDir('ek-auto-');
    const on = await startEmbeddedKafka({ dataDir: dirOn, numPartitions: 3 });
    const topic = uniqueName('auto');
    const producer = client(on.brokers).producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'x' }] });
    await producer.disconnect();
    const admin = client(on.brokers).admin();
    await admin.connect();
    expect((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions).toHaveLength(3);
    await admin.disconnect();
    await on.stop();

    const dirOff = tempDir('ek-noauto-');
    const off = await startEmbeddedKafka({ dataDir: dirOff, autoCreateTopics: false });
    const p2 = client(off.brokers, { retry: { retries: 1, initialRetryTime: 50 } }).producer();
    await p2.connect();
    await expect(p2.send({ topic: uniqueName('absent'), messages: [{ value: 'x' }] })).rejects.toThrow(/does not host this topic-partition|UNKNOWN_TOPIC/i);
    await p2.disconnect();
    await off.stop();
    fs.rmSync(dirOn, { recursive: true, force: true });
    fs.rmSync(dirOff, { recursive: true, force: true });
  });
});

describe('embedded broker: persistence', () => {
  it('keeps data and committed offsets across a restart', async () => {
    const dir = tempDir('ek-restart-');
    let kafka = await startEmbeddedKafka({ dataDir: dir });
    const topic = uniqueName('persist');
    const groupId = uniqueName('g');
    let k = client(kafka.brokers);
    const producer = k.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ value: `m${i}` })) });
    await producer.disconnect();
    await consumeUntil(k, { groupId, topic }, (g) => g.length >= 12);
    await kafka.stop();

    kafka = await startEmbeddedKafka({ dataDir: dir });
    await expect(startEmbeddedKafka({ dataDir: dir })).rejects.toThrow(/in use by another broker/);
    k = client(kafka.brokers);
    const admin = k.admin();
    await admin.connect();
    expect((await admin.fetchTopicOffsets(topic))[0].high).toBe('20');
    const committed = Number((await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions[0].offset);
    expect(committed).toBeGreaterThanOrEqual(12);
    await admin.disconnect();
    const rest = await consumeUntil(k, { groupId, topic }, (g) => g.some((m) => m.value.toString() === 'm19'));
    expect(rest[0].offset).toBe(String(committed));
    const all = await consumeUntil(k, { groupId: uniqueName('g'), topic }, (g) => g.length >= 20);
    expect(all.map((m) => m.value.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    await kafka.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a damaged record in the middle of the group journal loses only that record', async () => {
    const dir = tempDir('ek-journal-');
    let kafka = await startEmbeddedKafka({ dataDir: dir, logLevel: 'silent' });
    const topic = uniqueName('jt');
    const groups = Array.from({ length: 5 }, (_, i) => `${uniqueName('jg')}-${i}`);
    let admin = client(kafka.brokers).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic }] });
    for (const [i, groupId] of groups.entries()) expect(await commitStandalone(kafka.port, groupId, topic, 10 + i)).toBe(0);
    await admin.disconnect();
    await kafka.stop();
    const file = path.join(dir, 'groups', 'journal.log');
    const bytes = fs.readFileSync(file);
    const at = bytes.indexOf(`"g":"${groups[2]}","topic"`);
    expect(at).toBeGreaterThan(0);
    bytes[at + 6] ^= 0x20; // one flipped bit inside the offset record of the third group
    fs.writeFileSync(file, bytes);

    kafka = await startEmbeddedKafka({ dataDir: dir, logLevel: 'silent' });
    admin = client(kafka.brokers).admin();
    await admin.connect();
    const offsets: string[] = [];
    for (const groupId of groups) offsets.push((await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions[0].offset);
    expect(offsets).toEqual(['10', '11', '-1', '13', '14']);
    await admin.disconnect();
    await kafka.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a topic whose legal name contains ".deleting-" across restarts; finishes interrupted deletions', async () => {
    const dir = tempDir('ek-tomb-');
    let kafka = await startEmbeddedKafka({ dataDir: dir, logLevel: 'error' });
    const names = ['audit.deleting-1-2', 'x.deleting-', `t.deleting-${process.pid}-${Date.now()}`];
    let k = client(kafka.brokers);
    const producer = k.producer();
    await producer.connect();
    for (const topic of names) await producer.send({ topic, acks: -1, messages: [{ value: `kept-${topic}` }] });
    await producer.disconnect();
    const doomed = uniqueName('doomed');
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: doomed }] });
    await admin.deleteTopics({ topics: [doomed] });
    await admin.disconnect();
    await kafka.stop();
    // A deletion interrupted after its rename (new layout) and one left by the old layout.
    fs.mkdirSync(path.join(dir, 'deleting', 'gone-1-1', '0'), { recursive: true });
    const legacy = path.join(dir, 'topics', `old.deleting-123-456`);
    fs.mkdirSync(path.join(legacy, '0'), { recursive: true });
    fs.writeFileSync(path.join(legacy, 'topic.json'), JSON.stringify({ name: 'old', partitions: 1, config: {} }));

    for (let round = 0; round < 2; round++) {
      kafka = await startEmbeddedKafka({ dataDir: dir, logLevel: 'error' });
      k = client(kafka.brokers);
      const a = k.admin();
      await a.connect();
      const listed = await a.listTopics();
      for (const topic of names) {
        expect(listed).toContain(topic);
        expect((await a.fetchTopicOffsets(topic))[0].high).toBe('1');
      }
      expect(listed).not.toContain(doomed);
      expect(listed).not.toContain('old');
      await a.disconnect();
      await kafka.stop();
    }
    expect(fs.readdirSync(path.join(dir, 'deleting'))).toEqual([]);
    expect(fs.existsSync(legacy)).toBe(false);
    for (const topic of names) expect(fs.existsSync(path.join(dir, 'topics', topic, 'topic.json'))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acks=-1 message when the broker process is killed with SIGKILL', async () => {
    const dir = tempDir('ek-kill-');
    const first = await startBrokerProcess(dir);
    const topic = uniqueName('kill9');
    const k = client([`127.0.0.1:${first.port}`], { retry: { retries: 0 } });
    const producer = k.producer();
    await producer.connect();
    const acked: string[] = [];
    for (let i = 0; i < 50; i++) {
      await producer.send({ topic, acks: -1, messages: [{ value: `durable-${i}` }, { value: `durable-${i}-b` }] });
      acked.push(`durable-${i}`, `durable-${i}-b`);
    }
    await first.kill9();
    await producer.disconnect().catch(() => undefined);

    const second = await startBrokerProcess(dir);
    const k2 = client([`127.0.0.1:${second.port}`]);
    const got = await consumeUntil(k2, { groupId: uniqueName('g'), topic }, (g) => g.length >= acked.length);
    expect(got.map((m) => m.value.toString())).toEqual(acked);
    expect(await second.stop()).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('npm run broker: arguments', () => {
  it('refuses bad arguments with exit code 2 and the usage line', () => {
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const run = (args: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'infra/launcher/bin/run-ts.js'), 'infra/embedded-kafka/src/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
    const badPort = run(['--port', 'abc', '--data-dir', os.tmpdir()]);
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toMatch(/--port needs an integer in 0\.\.65535, got 'abc'/);
    expect(badPort.stderr).toMatch(/usage: npm run broker/);
    const noDir = run(['--port', '0']);
    expect(noDir.status).toBe(2);
    expect(noDir.stderr).toMatch(/--data-dir is required/);
  });
});

/** Fetch v4 body: one partition of `topic` from offset 0, long-polling up to maxWaitMs for 1 byte. */
function fetchV4Body(topic: string, maxWaitMs: number): Buffer {
  const name = Buffer.from(topic);
  const body = Buffer.alloc(4 + 4 + 4 + 4 + 1 + 4 + 2 + name.length + 4 + 4 + 8 + 4);
  let o = 0;
  o = body.writeInt32BE(-1, o);
  o = body.writeInt32BE(maxWaitMs, o);
  o = body.writeInt32BE(1, o);
  o = body.writeInt32BE(1 << 20, o);
  o = body.writeInt8(0, o);
  o = body.writeInt32BE(1, o);
  o = body.writeInt16BE(name.length, o);
  o += name.copy(body, o);
  o = body.writeInt32BE(1, o);
  o = body.writeInt32BE(0, o);
  o = body.writeBigInt64BE(0n, o);
  body.writeInt32BE(1 << 20, o);
  return body;
}
