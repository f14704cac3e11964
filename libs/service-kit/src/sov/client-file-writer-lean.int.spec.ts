/**
 * ClientFileWriter over the lean producer on a real (embedded) broker, no multiplexer: the
 * superblocks it publishes decode as superblocks, byte for byte and in order; a request the broker
 * refuses for good fails the writer with the broker's reason, before anything is reported complete.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { decodeFrom, type MessageOfType } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { Kafka, logLevel } from 'kafkajs';
import { SUPERBLOCK_BYTES } from './client-file-writer';
import { SovClient } from './sov-client';

jest.setTimeout(60_000);

let kafka: EmbeddedKafka;
let root: string;

async function topics(superblockMax: number): Promise<void> {
  const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'sov.superblocks', configEntries: [{ name: 'max.message.bytes', value: String(superblockMax) }] },
      { topic: 'sov.commands' },
      { topic: 'sov.events' },
      { topic: 'sov.commands.dlq' },
      { topic: 'sov.superblocks.dlq' },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
}

async function superblocks(n: number): Promise<Array<MessageOfType<'Superblock'>>> {
  const consumer = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: `g-${Date.now()}`, maxWaitTimeInMs: 200 });
  const got: Array<MessageOfType<'Superblock'>> = [];
  await consumer.connect();
  await consumer.subscribe({ topic: 'sov.superblocks', fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        got.push(decodeFrom('sov.superblocks', message.value) as MessageOfType<'Superblock'>);
        if (got.length >= n) resolve();
      },
    });
  });
  await consumer.disconnect();
  return got;
}

beforeEach(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cfw-lean-'));
  kafka = await startEmbeddedKafka({ dataDir: root, fsync: 'never' });
});

afterEach(async () => {
  await kafka?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

it('publishes superblocks that decode byte-identical, in sequence, each with its CRC', async () => {
  await topics(8 << 20);
  const sov = await SovClient.connect({ brokers: kafka.brokers, clientId: 'lean-test', superblockProducer: 'lean' });
  try {
    expect(sov.superblockProducer).toBe('lean');
    const data = Buffer.allocUnsafe(5 * SUPERBLOCK_BYTES + 1234);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const w = await sov.openClientFile({ stream: 'S1', clientFile: 'f1', kind: 'full' }, { superblocksPerRequest: 2, inFlight: 3 });
    for (let off = 0; off < data.length; off += 100_000) await w.write(data.subarray(off, off + 100_000));
    await w.flushed();
    // all but the last full superblock (held back until finish or more data says whether it is the last) and the partial one
    const got = await superblocks(4);
    expect(got.map((s) => s.seq)).toEqual([0, 1, 2, 3]);
    got.forEach((s, i) => {
      expect(Buffer.from(s.payload).equals(data.subarray(i * SUPERBLOCK_BYTES, (i + 1) * SUPERBLOCK_BYTES))).toBe(true);
      expect(s.crc).toBe(crc32c(s.payload));
      expect(s).toMatchObject({ stream: 'S1', clientFile: 'f1', incarnation: w.incarnation, last: false });
    });
  } finally {
    await sov.close();
  }
});

it('a request the broker refuses for good (MESSAGE_TOO_LARGE) fails the writer with that reason', async () => {
  await topics(64 * 1024);
  const sov = await SovClient.connect({ brokers: kafka.brokers, clientId: 'lean-test', superblockProducer: 'lean' });
  try {
    const w = await sov.openClientFile({ stream: 'S1', clientFile: 'f2', kind: 'full' }, { timeoutMs: 2000 });
    await w.write(Buffer.alloc(3 * SUPERBLOCK_BYTES, 1));
    await expect(w.finish()).rejects.toThrow(/publishing superblocks of f2 failed: .*MESSAGE_TOO_LARGE/);
  } finally {
    await sov.close();
  }
});

it('refuses an unknown SOV_PRODUCER value with the reason', async () => {
  await topics(8 << 20);
  const before = process.env.SOV_PRODUCER;
  process.env.SOV_PRODUCER = 'rdkafka';
  try {
    await expect(SovClient.connect({ brokers: kafka.brokers, clientId: 'lean-test' })).rejects.toThrow(/SOV_PRODUCER: expected lean or kafkajs, got "rdkafka"/);
  } finally {
    if (before === undefined) delete process.env.SOV_PRODUCER;
    else process.env.SOV_PRODUCER = before;
  }
});
