// The reference nucleus feeding the change logger: everything it publishes is accepted, the
// PLOG holds the last image of every block as the database holds it at the sync, and the
// DLOG captured at that sync names every changed block (plus the admin blocks).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { decodeFrom, encodeMessage, Topic } from '@deltaflow/contracts';
import { BlockSet } from '@deltaflow/blocks';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { databasesFromDirs, startChangeLogger } from '../../apps/change-logger/src/app';
import { startNucleusSim } from '../../apps/nucleus-sim/src/app';

jest.setTimeout(120_000);

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function readAll(kafka: Kafka, topic: string): Promise<Buffer[]> {
  const admin = kafka.admin();
  await admin.connect();
  const high = Number((await admin.fetchTopicOffsets(topic))[0].high);
  await admin.disconnect();
  const out: Buffer[] = [];
  if (high === 0) return out;
  const c = kafka.consumer({ groupId: `read-${topic}-${Date.now()}` });
  await c.connect();
  await c.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve) => {
    void c.run({
      eachMessage: async ({ message }) => {
        if (Number(message.offset) < high) out.push(message.value!);
        if (Number(message.offset) >= high - 1) resolve();
      },
    });
  });
  await c.disconnect();
  return out;
}

describe('nucleus-sim -> change-logger', () => {
  let broker: EmbeddedKafka;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-cl-'));
    broker = await startEmbeddedKafka({ dataDir: path.join(dir, 'kafka'), fsync: 'never', logLevel: 'silent' });
  });
  afterAll(async () => {
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts the whole upstream stream; PLOG and DLOG capture agree with the database at the sync', async () => {
    const sim = await startNucleusSim({ brokers: broker.brokers, dataDir: path.join(dir, 'sim'), dbid: 1, autoStart: false, syncIntervalMs: 0 });
    const cl = await startChangeLogger({ brokers: broker.brokers, databases: databasesFromDirs([sim.databaseDir]), groupId: 'e2e-cl' });
    try {
      await sim.runTransactions(40);
      await sim.runUtility();
      const s = await sim.sync('s1');
      await until('the change logger to reach the sync', () => (cl.changeLog.lastLsn(1) ?? 0) >= s.lsn);
      expect(cl.stats.rejected).toBe(0);

      const kafka = new Kafka({ brokers: broker.brokers, clientId: 'e2e', logLevel: logLevel.NOTHING });
      const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      const r = encodeMessage({
        type: 'SaveStarted',
        correlationId: 'save-1',
        dbid: 1,
        dsid: { full: 1, deltaFrom: 1, deltaTo: 1, timestamp: 1, lineage: 'L' },
        kind: 'delta',
        online: true,
        startLsn: s.lsn,
        occurredAt: 1,
      });
      await p.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: { ...r.headers } }] });
      await p.disconnect();
      await until('the capture', () => cl.changeLog.state(1)?.pending?.correlationId === 'save-1');

      const plog = (await readAll(kafka, Topic.plog)).map((v) => decodeFrom(Topic.plog, v));
      const last = new Map<string, Buffer>();
      for (const m of plog) if (m.type === 'PlogImage' && m.lsn <= s.lsn) last.set(`${m.area}:${m.rabn}`, Buffer.from(m.image));
      expect(plog.some((m) => m.type === 'PlogSync' && m.syncId === 's1')).toBe(true);
      const db = BlockDatabase.open(sim.databaseDir, { readOnly: true });
      try {
        for (const [k, img] of last) {
          const [area, rabn] = k.split(':');
          expect(Buffer.from(db.readBlock(area as 'ASSO' | 'DATA', Number(rabn))).equals(img)).toBe(true);
        }
      } finally {
        db.close();
      }

      const captured = (await readAll(kafka, Topic.dlog)).map((v) => decodeFrom(Topic.dlog, v)).find((m) => m.type === 'DlogCaptured');
      expect(captured?.type).toBe('DlogCaptured');
      if (captured?.type !== 'DlogCaptured') return;
      const sets = {
        ASSO: BlockSet.fromRanges(captured.ranges.filter((x) => x.area === 'ASSO')),
        DATA: BlockSet.fromRanges(captured.ranges.filter((x) => x.area === 'DATA')),
      };
      for (const k of last.keys()) {
        const [area, rabn] = k.split(':');
        expect(sets[area as 'ASSO' | 'DATA'].has(Number(rabn))).toBe(true);
      }
      for (let rabn = 1; rabn <= 10; rabn++) expect(sets.ASSO.has(rabn)).toBe(true); // admin blocks
    } finally {
      await cl.stop();
      await sim.stop();
    }
  });
});
