import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sampleGeometry, type Geometry } from '@deltaflow/blocks';
import { decodeFrom, encodeMessage, Topic, writeEnvelope, type AnyMessage } from '@deltaflow/contracts';
import { liveBlocks } from '@deltaflow/dlog';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { startChangeLogger, type RunningChangeLogger } from './app';

jest.setTimeout(120_000);

// the sample database of npm start: 4 KiB blocks, ASSO 128, DATA 768, admin ASSO 1..10
const geometry: Geometry = sampleGeometry();
const img = (fill: number, len = 4096) => Buffer.alloc(len, fill);
const bc = (rabn: number, lsn: number, dbid = 1, image = img(lsn % 250)): AnyMessage => ({ type: 'BlockChanged', dbid, area: 'DATA', rabn, lsn, txn: 1, image });
const dsid = { full: 1, deltaFrom: 1, deltaTo: 1, timestamp: 1, lineage: 'L' };

async function send(p: Producer, messages: AnyMessage[]): Promise<void> {
  const rs = messages.map((m) => encodeMessage(m));
  await p.send({ topic: rs[0].topic, acks: -1, messages: rs.map((r) => ({ key: r.key, value: r.value, headers: { ...r.headers } })) });
}

/** Every record of a topic, from offset 0 to its end now. */
async function readAll(kafka: Kafka, topic: string): Promise<Buffer[]> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic }] }).catch(() => false);
  const high = Number((await admin.fetchTopicOffsets(topic))[0].high);
  await admin.disconnect();
  if (high === 0) return [];
  const out: Buffer[] = [];
  const c = kafka.consumer({ groupId: `read-${topic}-${Math.random().toString(36).slice(2)}` });
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

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('change-logger against the embedded broker', () => {
  let broker: EmbeddedKafka;
  let dir: string;
  let kafka: Kafka;
  let producer: Producer;
  let svc: RunningChangeLogger | undefined;
  const start = (groupId = 'cl') => startChangeLogger({ brokers: broker.brokers, databases: [{ dbid: 1, geometry }], groupId, now: () => 1 });
  const processed = (s: RunningChangeLogger) => s.stats.accepted + s.stats.rejected + s.stats.duplicates;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'change-logger-'));
    broker = await startEmbeddedKafka({ dataDir: dir, fsync: 'never', logLevel: 'silent' });
    kafka = new Kafka({ brokers: broker.brokers, clientId: 'test', logLevel: logLevel.NOTHING });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    await svc?.stop();
    await producer?.disconnect();
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('validates upstream input, drops duplicates, captures/drops/returns for saves, and rebuilds from dsf.dlog on restart', async () => {
    svc = await start();
    // a record the contract itself refuses (unknown area): decoded at the edge, dead-lettered
    const badArea = writeEnvelope('BlockChanged', 1, { dbid: 1, area: 'XYZ', rabn: 1, lsn: 3, txn: 1 }, [img(1)]);
    await send(producer, [bc(1, 1), bc(2, 2)]);
    await producer.send({ topic: Topic.blockChanges, acks: -1, messages: [{ key: '1', value: badArea, headers: { 'df-type': 'BlockChanged', 'df-version': '1' } }] });
    await send(producer, [
      bc(3, 3, 9), // unknown dbid
      bc(769, 4), // RABN out of range
      { ...bc(4, 5), image: img(1, 100) } as AnyMessage, // wrong image length
      bc(5, 1), // LSN going backwards (another block at an old LSN)
      bc(2, 2), // exact duplicate
      { type: 'EtSync', dbid: 1, lsn: 10, syncId: 'sync-10' },
      bc(6, 11),
    ]);
    const s1 = svc;
    await until('the first batch', () => processed(s1) >= 9);
    const dlq = (await readAll(kafka, 'dsf.block-changes.dlq')).map((v) => decodeFrom('dsf.block-changes.dlq', v));
    expect(dlq.map((d) => d.errorCode).sort()).toEqual(['IMAGE_LENGTH', 'LSN_NOT_INCREASING', 'RABN_OUT_OF_RANGE', 'UNKNOWN_DBID', 'VALIDATION']);
    for (const d of dlq) expect(d.reason.length).toBeGreaterThan(5);
    expect(s1.stats.duplicates).toBe(1);
    expect([...liveBlocks(s1.changeLog.state(1)!).DATA]).toEqual([1, 2, 6]);

    // online save: capture at its start sync, then it fails, then the next one completes
    const ev = (m: Record<string, unknown>) => m as unknown as AnyMessage;
    await send(producer, [ev({ type: 'SaveStarted', correlationId: 'save-A', dbid: 1, dsid, kind: 'delta', online: true, startLsn: 10, occurredAt: 1 })]);
    await until('capture A', () => s1.changeLog.state(1)!.pending?.correlationId === 'save-A');
    await send(producer, [ev({ type: 'SaveFailed', correlationId: 'save-A', dbid: 1, code: 'IO', reason: 'device lost', occurredAt: 2 })]);
    await until('return A', () => s1.changeLog.state(1)!.pending === null);
    await send(producer, [bc(7, 12), { type: 'EtSync', dbid: 1, lsn: 13, syncId: 'sync-13' }, bc(8, 14)]);
    await send(producer, [ev({ type: 'SaveStarted', correlationId: 'save-B', dbid: 1, dsid, kind: 'delta', online: true, startLsn: 13, occurredAt: 3 })]);
    await until('capture B', () => s1.changeLog.state(1)!.pending?.correlationId === 'save-B');
    await send(producer, [
      ev({ type: 'SaveCompleted', correlationId: 'save-B', dbid: 1, dsid, kind: 'delta', online: true, startLsn: 13, endLsn: 14, location: { kind: 'directory', name: 'd' }, blocks: 1, bytes: 1, digest: 'abcdef01', occurredAt: 4 }),
    ]);
    await until('drop B', () => s1.changeLog.state(1)!.finished.some((f) => f.correlationId === 'save-B'));
    expect([...liveBlocks(s1.changeLog.state(1)!).DATA]).toEqual([8]);

    const dlog = (await readAll(kafka, Topic.dlog)).map((v) => decodeFrom(Topic.dlog, v));
    const captures = dlog.filter((m) => m.type === 'DlogCaptured');
    expect(captures.map((c) => [c.correlationId, c.syncLsn])).toEqual([
      ['save-A', 10],
      ['save-B', 13],
    ]);
    // B holds A's returned blocks (1, 2, 6 at or below 10) plus 7, and the admin blocks
    const b = captures[1];
    expect(b.type === 'DlogCaptured' && b.ranges).toEqual([
      { area: 'ASSO', from: 1, to: 10 },
      { area: 'DATA', from: 1, to: 2 },
      { area: 'DATA', from: 6, to: 7 },
    ]);
    expect(dlog.filter((m) => m.type === 'DlogReturned').map((m) => m.type === 'DlogReturned' && m.reason)).toEqual(['device lost']);
    expect(dlog.filter((m) => m.type === 'DlogDropped')).toHaveLength(1);

    const plogBefore = (await readAll(kafka, Topic.plog)).map((v) => decodeFrom(Topic.plog, v));
    expect(plogBefore.map((m) => m.lsn)).toEqual([1, 2, 10, 11, 12, 13, 14]);
    const stateBefore = JSON.stringify(s1.changeLog.state(1));
    await s1.stop();
    svc = undefined;

    // restart under a NEW consumer group: every upstream record and save event is redelivered.
    // The DLOG comes back from dsf.dlog alone and every redelivery is a duplicate.
    const s2 = await start('cl-2');
    svc = s2;
    expect(JSON.stringify(s2.changeLog.state(1))).toBe(stateBefore);
    await send(producer, [bc(9, 15)]);
    await until('the redelivered stream', () => s2.stats.accepted >= 1);
    await new Promise((r) => setTimeout(r, 500));
    const plogAfter = (await readAll(kafka, Topic.plog)).map((v) => decodeFrom(Topic.plog, v));
    expect(plogAfter.map((m) => m.lsn)).toEqual([1, 2, 10, 11, 12, 13, 14, 15]);
    expect([...liveBlocks(s2.changeLog.state(1)!).DATA]).toEqual([8, 9]);
    const dlogAfter = (await readAll(kafka, Topic.dlog)).map((v) => decodeFrom(Topic.dlog, v));
    expect(dlogAfter.filter((m) => m.type === 'DlogCaptured')).toHaveLength(2);
  });

  it('stopped mid-stream and restarted: no change lost, none applied twice (PLOG has every LSN, the capture every block)', async () => {
    await svc?.stop(); // the previous test's instance (its group knows only dbid 1)
    svc = undefined;
    const DB = 2;
    const startBoth = () => startChangeLogger({ brokers: broker.brokers, databases: [{ dbid: 1, geometry }, { dbid: DB, geometry }], groupId: 'cl-burst', now: () => 1 });
    const N = 3000;
    const rabnOf = (lsn: number) => 1 + ((lsn * 37) % 768);
    let lsn = 0;
    const burst = async (count: number) => {
      for (let i = 0; i < count; i += 100) {
        const batch: AnyMessage[] = [];
        for (let j = 0; j < 100; j++) batch.push(bc(rabnOf(++lsn), lsn, DB));
        await send(producer, batch);
      }
    };
    let s = await startBoth();
    svc = s;
    await burst(N / 2);
    await until('part of the burst', () => (s.changeLog.lastLsn(DB) ?? 0) > 0);
    await s.stop(); // while the upstream keeps writing
    svc = undefined;
    await burst(N / 2);
    await send(producer, [{ type: 'EtSync', dbid: DB, lsn: N + 1, syncId: 'burst-end' }]);
    s = await startBoth();
    svc = s;
    await until('the whole burst', () => s.changeLog.lastLsn(DB) === N + 1);

    const dsid2 = { ...dsid, full: 1, deltaFrom: 0, deltaTo: 0 };
    await send(producer, [{ type: 'SaveStarted', correlationId: 'burst-save', dbid: DB, dsid: dsid2, kind: 'full', online: true, startLsn: N + 1, occurredAt: 5 } as AnyMessage]);
    await until('the capture', () => s.changeLog.state(DB)!.pending?.correlationId === 'burst-save');

    const dlog = (await readAll(kafka, Topic.dlog)).map((v) => decodeFrom(Topic.dlog, v)).filter((m) => m.dbid === DB);
    const capture = dlog.find((m) => m.type === 'DlogCaptured');
    const captured = new Set<number>();
    for (const r of capture?.type === 'DlogCaptured' ? capture.ranges : []) if (r.area === 'DATA') for (let x = r.from; x <= r.to; x++) captured.add(x);
    const written = new Set(Array.from({ length: N }, (_, i) => rabnOf(i + 1)));
    expect([...captured].sort((a, b) => a - b)).toEqual([...written].sort((a, b) => a - b));

    const plog = (await readAll(kafka, Topic.plog)).map((v) => decodeFrom(Topic.plog, v)).filter((m) => m.dbid === DB);
    const lsns = new Set(plog.filter((m) => m.type === 'PlogImage').map((m) => m.lsn));
    expect(lsns.size).toBe(N);
    expect(Math.min(...lsns)).toBe(1);
    expect(Math.max(...lsns)).toBe(N);
    // a redelivered batch may repeat images (same LSN, same image), never with another image
    const byLsn = new Map<number, string>();
    for (const m of plog) {
      if (m.type !== 'PlogImage') continue;
      const h = Buffer.from(m.image).toString('base64').slice(0, 16) + m.rabn;
      expect(byLsn.get(m.lsn) ?? h).toBe(h);
      byLsn.set(m.lsn, h);
    }
    const dlq = (await readAll(kafka, 'dsf.block-changes.dlq')).map((v) => decodeFrom('dsf.block-changes.dlq', v));
    expect(dlq.filter((d) => d.originalKey === String(DB))).toEqual([]);
  });
});
