import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBrokerProcess, type BrokerProcess } from './broker-process';
import { client, uniqueName } from './kafka-helpers';
import { hasKcat, kcatResult } from './kcat';
import { rawExchange } from './raw-socket';

const encodeRequest = require('kafkajs/src/protocol/request');
const produceRequestV3 = require('kafkajs/src/protocol/requests/produce/v3/request');
const produceResponseV3 = require('kafkajs/src/protocol/requests/produce/v3/response');

/** Request size (socket.request.max.bytes) and batch size (message.max.bytes / max.message.bytes) limits. */
describe('embedded broker: limits on what a client may send', () => {
  let dir: string;
  let b: BrokerProcess;
  const FRAME = 64 * 1024;
  const DEFAULT_MESSAGE = 4096;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-limits-'));
    b = await startBrokerProcess(dir, ['--socket-request-max-bytes', String(FRAME), '--message-max-bytes', String(DEFAULT_MESSAGE), '--fsync', 'never']);
  });
  afterAll(async () => {
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function highWatermark(topic: string): Promise<string> {
    const admin = client([b.listening]).admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic))[0].high;
    } finally {
      await admin.disconnect();
    }
  }

  it('closes a connection as soon as a size prefix exceeds --socket-request-max-bytes, before the body is sent', async () => {
    const closedAfterPrefix = await new Promise<boolean>((resolve) => {
      const s = net.connect(b.port, '127.0.0.1', () => {
        const size = Buffer.alloc(4);
        size.writeInt32BE(FRAME + 1, 0);
        s.write(size); // and nothing else: the broker must not wait for (or buffer) the body
      });
      s.on('close', () => resolve(true));
      s.on('error', () => undefined);
      setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 3000);
    });
    expect(closedAfterPrefix).toBe(true);
    expect(b.stderr()).toMatch(/frame size 65537 outside 8\.\.65536/);
    // kafkajs: a produce request over the limit fails (connection closed), one under it works.
    const topic = uniqueName('frame');
    const admin = client([b.listening]).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, configEntries: [{ name: 'max.message.bytes', value: String(1 << 20) }] }] });
    await admin.disconnect();
    const producer = client([b.listening], { retry: { retries: 0 } }).producer();
    await producer.connect();
    await expect(producer.send({ topic, acks: -1, messages: [{ value: Buffer.alloc(FRAME + 100, 1) }] })).rejects.toThrow();
    await producer.disconnect();
    const ok = client([b.listening]).producer();
    await ok.connect();
    await ok.send({ topic, acks: -1, messages: [{ value: Buffer.alloc(FRAME - 1000, 1) }] });
    await ok.disconnect();
    expect(await highWatermark(topic)).toBe('1');
  });

  it('refuses a batch over max.message.bytes with MESSAGE_TOO_LARGE (10) and stores nothing; the broker default comes from --message-max-bytes', async () => {
    const small = uniqueName('deflt'); // no max.message.bytes: the broker default (4096)
    const roomy = uniqueName('roomy');
    const admin = client([b.listening]).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: small }, { topic: roomy, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }] });
    await admin.disconnect();
    const producer = client([b.listening], { retry: { retries: 0 } }).producer();
    await producer.connect();
    const err = await producer.send({ topic: small, acks: -1, messages: [{ value: Buffer.alloc(5000, 2) }] }).catch((e) => e);
    expect(err.type ?? err.cause?.type ?? JSON.stringify(err)).toMatch(/MESSAGE_TOO_LARGE/);
    await producer.send({ topic: small, acks: -1, messages: [{ value: Buffer.alloc(3000, 2) }] });
    await producer.send({ topic: roomy, acks: -1, messages: [{ value: Buffer.alloc(15000, 2) }] });
    await producer.disconnect();
    expect(await highWatermark(small)).toBe('1');
    expect(await highWatermark(roomy)).toBe('1');

    // The size check comes before the CRC pass: an oversize batch with a broken CRC is still 10.
    const request = produceRequestV3({ acks: -1, timeout: 5000, topicData: [{ topic: small, partitions: [{ partition: 0, messages: [{ value: Buffer.alloc(6000, 3) }] }] }] });
    const encoded: Buffer = Buffer.from((await encodeRequest({ correlationId: 8, clientId: 'big', request })).buffer);
    encoded[encoded.length - 10] ^= 0xff;
    const { responses } = await rawExchange(b.port, encoded, { frames: 1 });
    expect((await produceResponseV3.decode(responses[0].subarray(4))).topics[0].partitions[0].errorCode).toBe(10);
    expect(await highWatermark(small)).toBe('1');

    if (hasKcat) {
      const r = await kcatResult(['-b', b.listening, '-P', '-t', small], `${'x'.repeat(5000)}\n`);
      expect(r.stderr).toMatch(/Message size too large/i);
      expect(await highWatermark(small)).toBe('1');
    }
  });

  it('refuses bad limit flags with exit code 2', async () => {
    const { brokerProcessFails } = await import('./broker-process');
    const r = await brokerProcessFails(dir, ['--socket-request-max-bytes', '100']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--socket-request-max-bytes needs an integer in 1024\.\.2147483647, got '100'/);
  });
});
