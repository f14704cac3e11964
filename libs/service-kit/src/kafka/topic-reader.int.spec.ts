import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeMessage, type TopicMessage } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { partitionKey, readToEnd, TopicReader } from './topic-reader';

let kafka: EmbeddedKafka;
let producer: Producer;
let root: string;
type Plog = TopicMessage<'dsf.plog'>;

const sync = (dbid: number, lsn: number): Plog => ({ type: 'PlogSync', dbid, syncId: `s${lsn}`, lsn });

async function put(partition: number, ...ms: Plog[]): Promise<void> {
  await producer.send({ topic: 'dsf.plog', acks: -1, messages: ms.map((m) => { const r = encodeMessage(m); return { partition, key: r.key, value: r.value, headers: { ...r.headers } }; }) });
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'topic-reader-'));
  kafka = await startEmbeddedKafka({ dataDir: root, fsync: 'never' });
  const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'dsf.plog', numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  producer = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await put(0, sync(1, 1), sync(1, 2));
  await put(1, sync(2, 1));
  await put(2, sync(3, 1), sync(3, 2), sync(3, 3));
});

afterAll(async () => {
  await producer?.disconnect();
  await kafka?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('TopicReader on a real broker', () => {
  it('reads every partition from the log start to its end', async () => {
    const got: string[] = [];
    expect(await readToEnd<Plog>({ brokers: kafka.brokers, clientId: 't1', topics: ['dsf.plog'], onMessage: (m, at) => void got.push(`${at.partition}:${(m as { lsn: number }).lsn}`) })).toBe(6);
    expect(got.sort()).toEqual(['0:1', '0:2', '1:1', '2:1', '2:2', '2:3']);
  });

  it('reads only the partitions asked for, and its barrier waits for those alone', async () => {
    const got: number[] = [];
    const r = new TopicReader<Plog>({ brokers: kafka.brokers, clientId: 't2', topics: ['dsf.plog'], partitions: new Set([2]), onMessage: (_m, at) => void got.push(at.partition) });
    await r.start();
    await r.caughtUp;
    expect(got).toEqual([2, 2, 2]);
    await put(1, sync(2, 2)); // not its partition
    await put(2, sync(3, 4));
    await r.barrier();
    expect(got).toEqual([2, 2, 2, 2]);
    await r.stop();
  });

  it('starts at given positions and stops delivering at until', async () => {
    const got: string[] = [];
    const r = new TopicReader<Plog>({
      brokers: kafka.brokers,
      clientId: 't3',
      topics: ['dsf.plog'],
      from: new Map([[partitionKey('dsf.plog', 2), 1n]]),
      until: new Map([[partitionKey('dsf.plog', 2), 3n]]),
      onMessage: (m, at) => void got.push(`${at.partition}@${at.offset}`),
    });
    await r.start();
    await r.caughtUp;
    await r.barrier();
    expect(got.filter((g) => g.startsWith('2@')).sort()).toEqual(['2@1', '2@2']);
    expect(got.filter((g) => g.startsWith('0@')).sort()).toEqual(['0@0', '0@1']);
    await r.stop();
  });
});
