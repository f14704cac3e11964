import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { decodeFrom, encodeMessage, Topic, type AnyMessage, type TopicMessage } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { startNucleusSim } from './app';

jest.setTimeout(60_000);

type Upstream = TopicMessage<'dsf.block-changes'>;

/** Reads dsf.block-changes from offset 0 until `until` says stop. */
async function readUpstream(brokers: string[], until: (all: Upstream[]) => boolean): Promise<Upstream[]> {
  const kafka = new Kafka({ brokers, clientId: 'reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `reader-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [Topic.blockChanges], fromBeginning: true });
  const all: Upstream[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${all.length} messages`)), 30_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        all.push(decodeFrom(Topic.blockChanges, message.value));
        if (until(all)) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return all;
}

describe('nucleus-sim against the embedded broker', () => {
  let broker: EmbeddedKafka;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nucleus-sim-'));
    broker = await startEmbeddedKafka({ dataDir: path.join(dir, 'kafka'), fsync: 'never', logLevel: 'silent' });
  });
  afterAll(async () => {
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publishes every change before the sync it answers, with strictly increasing LSNs, and records the digest at the sync', async () => {
    const dataDir = path.join(dir, 'sim');
    const sim = await startNucleusSim({ brokers: broker.brokers, dataDir, dbid: 1, autoStart: false, syncIntervalMs: 0 });
    await sim.runTransactions(20);
    await sim.runUtility();
    const kafka = new Kafka({ brokers: broker.brokers, clientId: 'saver', logLevel: logLevel.NOTHING });
    const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    const req = encodeMessage({ type: 'SyncRequested', dbid: 1, syncId: 'sync-A' });
    await p.send({ topic: req.topic, acks: -1, messages: [{ key: req.key, value: req.value, headers: req.headers }] });
    await p.disconnect();

    const all = await readUpstream(broker.brokers, (xs) => xs.some((m) => m.type === 'EtSync' && m.syncId === 'sync-A'));
    const lsns = all.map((m) => m.lsn);
    for (let i = 1; i < lsns.length; i++) expect(lsns[i]).toBeGreaterThan(lsns[i - 1]);
    const changes = all.filter((m) => m.type === 'BlockChanged');
    expect(changes.length).toBe(20 * 4 + 8);
    expect(all.filter((m) => m.type === 'UtilityChanged')).toHaveLength(1);
    const sync = all.find((m) => m.type === 'EtSync')!;
    expect(sim.digestAt('sync-A')).toEqual({ syncId: 'sync-A', lsn: sync.lsn, digest: await sim.digest() });
    // answered once per syncId
    expect((await sim.sync('sync-A')).lsn).toBe(sync.lsn);
    const lastLsn = sim.lastLsn();
    await sim.stop();

    // the last published image of every block is what the database file holds
    const db = BlockDatabase.open(path.join(dataDir, 'db'), { readOnly: true });
    const last = new Map<string, Buffer>();
    for (const c of changes) if (c.type === 'BlockChanged') last.set(`${c.area}:${c.rabn}`, Buffer.from(c.image));
    for (const [k, img] of last) {
      const [area, rabn] = k.split(':');
      expect(Buffer.from(db.readBlock(area as 'ASSO' | 'DATA', Number(rabn))).equals(img)).toBe(true);
    }
    db.close();

    // a restart continues above every LSN already used
    const again = await startNucleusSim({ brokers: broker.brokers, dataDir, dbid: 1, autoStart: false, syncIntervalMs: 0 });
    await again.runTransactions(1);
    expect(again.lastLsn()).toBeGreaterThan(lastLsn);
    expect(again.digestAt('sync-A')?.lsn).toBe(sync.lsn);
    await again.stop();
  });

  it('refuses a database directory of another dbid', async () => {
    const dataDir = path.join(dir, 'sim2');
    const sim = await startNucleusSim({ brokers: broker.brokers, dataDir, dbid: 2, autoStart: false, syncIntervalMs: 0 });
    await sim.stop();
    await expect(startNucleusSim({ brokers: broker.brokers, dataDir, dbid: 3, autoStart: false, syncIntervalMs: 0 })).rejects.toThrow(/dbid 2/);
  });

  it('a malformed command goes to nucleus.commands.dlq with its reason, once, and the nucleus keeps answering', async () => {
    const dataDir = path.join(dir, 'sim4');
    const sim = await startNucleusSim({ brokers: broker.brokers, dataDir, dbid: 4, autoStart: false, syncIntervalMs: 0 });
    const other = await startNucleusSim({ brokers: broker.brokers, dataDir: path.join(dir, 'sim5'), dbid: 5, autoStart: false, syncIntervalMs: 0 });
    const kafka = new Kafka({ brokers: broker.brokers, clientId: 'bad-saver', logLevel: logLevel.NOTHING });
    const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    await p.send({ topic: Topic.nucleusCommands, acks: -1, messages: [{ key: '4', value: Buffer.from('{"not":"an envelope"}') }] });
    const req = encodeMessage({ type: 'SyncRequested', dbid: 4, syncId: 'after-bad' });
    await p.send({ topic: req.topic, acks: -1, messages: [{ key: req.key, value: req.value, headers: req.headers }] });
    await p.disconnect();
    const upstream = await readUpstream(broker.brokers, (all) => all.some((m) => m.type === 'EtSync' && m.syncId === 'after-bad'));
    expect(upstream.some((m) => m.type === 'EtSync' && m.syncId === 'after-bad')).toBe(true);
    const consumer = kafka.consumer({ groupId: `dlq-${Math.random().toString(36).slice(2)}` });
    await consumer.connect();
    await consumer.subscribe({ topics: ['nucleus.commands.dlq'], fromBeginning: true });
    const dead: AnyMessage[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => { dead.push(decodeFrom('nucleus.commands.dlq', message.value)); resolve(); } });
    });
    await new Promise((r) => setTimeout(r, 1500)); // a second dead letter (from database 5's consumer) would show by now
    await consumer.disconnect();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ type: 'DeadLetter', sourceTopic: 'nucleus.commands', consumerGroup: 'deltaflow.nucleus-sim.4', originalKey: '4' });
    await sim.stop();
    await other.stop();
  });
});
