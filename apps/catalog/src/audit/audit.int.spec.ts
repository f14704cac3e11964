/**
 * The auditor's tools on the embedded broker (2 partitions per topic) and PostgreSQL: a history
 * published in two phases, the live catalog, then GET /at (time and offset cuts: the digest of a
 * direct fold of the same events, and of a replay cut at the reported positions), /history,
 * /verify, and tamper evidence: a record rewritten on the stopped broker's disk and records deleted
 * by DeleteRecords, both reported with their offsets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeMessage, Topic } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { tempDir, testDatabase, type TestDatabase } from '@deltaflow/testing';
import { Kafka, logLevel } from 'kafkajs';
import { startCatalog, type RunningCatalog } from '../app';
import type { CatalogEvent } from '../projection';
import { openCatalogDatabase, PROJECTIONS, stateDigest } from '../read-models';
import { replay } from '../replay';
import { catalogHistory } from '../testing/history';
import { rewriteRecord } from '../testing/tamper';
import type { AtState } from './as-of';
import { untilOf } from './as-of';
import type { HistoryEntry } from './history';
import type { VerifyResult } from './verify';

jest.setTimeout(60_000);

let dataDir: string;
let broker: EmbeddedKafka;
let db: TestDatabase;
let catalog: RunningCatalog | undefined;
const events = catalogHistory({ events: 700, databases: 3 });
const half = 350;
let cutTime = 0;

const get = async <T>(p: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${catalog!.httpUrl}${p}`);
  return { status: res.status, body: (await res.json()) as T };
};

async function publish(list: readonly CatalogEvent[]): Promise<void> {
  const producer = new Kafka({ clientId: 'audit-test', brokers: broker.brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const byTopic = new Map<string, Array<{ key: string | null; value: Buffer; headers: Record<string, string> }>>();
  for (const e of list) {
    const r = encodeMessage(e);
    byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), { key: r.key, value: r.value as Buffer, headers: r.headers as Record<string, string> }]);
  }
  await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  await producer.disconnect();
}

/** The digest of folding `list` straight into a fresh schema (no Kafka): what any correct cut must give. */
async function directDigest(list: readonly CatalogEvent[], schema: string): Promise<string> {
  const ds = await openCatalogDatabase(db.url, schema);
  try {
    await ds.transaction(async (m) => {
      for (const e of list) for (const p of PROJECTIONS) if (p.canHandle(e)) await p.apply(m, e);
    });
    return (await stateDigest(ds)).digest;
  } finally {
    await ds.destroy();
  }
}

async function caughtUp(digest: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await get<{ digest: string }>('/state-digest')).body.digest !== digest) {
    if (Date.now() > deadline) throw new Error('the live catalog did not reach the expected digest');
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dataDir = tempDir('audit-int');
  broker = await startEmbeddedKafka({ dataDir, port: 0, numPartitions: 2 });
  db = await testDatabase();
  await publish(events.slice(0, half));
  await new Promise((r) => setTimeout(r, 30));
  cutTime = Date.now();
  await new Promise((r) => setTimeout(r, 30));
  await publish(events.slice(half));
  catalog = await startCatalog({ brokers: broker.brokers, databaseUrl: db.url, httpPort: 0 });
  await caughtUp(await directDigest(events, 'expect_all'));
}, 120_000); // a loaded machine: the catalog's start and catch-up

afterAll(async () => {
  await catalog?.stop();
  await broker?.stop();
  await db?.drop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

it('GET /at?time=T gives the state of the events appended by T, with the live endpoints\' row shapes', async () => {
  const { status, body } = await get<AtState>(`/at?time=${new Date(cutTime).toISOString()}`);
  expect(status).toBe(200);
  expect(body.digest).toBe(await directDigest(events.slice(0, half), 'expect_half'));
  expect(body.asOf).toMatchObject({ eventsOffset: null, sovOffset: null, time: new Date(cutTime).toISOString() });
  expect(body.asOf.records).toBe(half);
  // now: the same rows as the live endpoints give
  const now = (await get<AtState>(`/at?time=${Date.now()}&dbid=2`)).body;
  expect(now.saves).toEqual((await get('/saves?dbid=2')).body);
  expect(now.dsims).toEqual((await get('/dsims?dbid=2')).body);
  expect(now.lineages).toEqual((await get('/lineages?dbid=2')).body);
  expect(now.restores).toEqual((await get('/restores?dbid=2')).body);
  expect(now.volumes).toEqual((await get('/volumes')).body);
  expect(now.streams).toEqual((await get('/streams')).body);
  expect(now.clientFiles).toEqual((await get('/client-files?dbid=2')).body);
  expect(now.saves.length).toBeGreaterThan(5);
});

it('GET /at?offset=N&sovOffset=M equals a replay cut at the positions it reports; bad input is a 400', async () => {
  const { body } = await get<AtState>('/at?offset=40&sovOffset=25');
  expect(body.asOf.eventsOffset).toBe(40);
  const eventsAt = Object.values(body.asOf.positions[Topic.dsfEvents]);
  expect(eventsAt.every((n) => n <= 41) && eventsAt.includes(41)).toBe(true);
  expect(Object.values(body.asOf.positions[Topic.sovEvents]).every((n) => n <= 26)).toBe(true);
  const cut = await replay({ brokers: broker.brokers, databaseUrl: db.url, until: untilOf(body.asOf.positions), schema: 'cut_replay' });
  expect(cut.digest).toBe(body.digest);
  expect(cut.records).toBe(body.asOf.records);
  // a later point is another state
  expect((await get<AtState>('/at?offset=80')).body.digest).not.toBe(body.digest);
  for (const q of ['offset=-1', 'offset=1&time=2026-01-01', 'time=yesterday', 'sovOffset=3', 'offset=1&dbid=0']) expect((await get(`/at?${q}`)).status).toBe(400);
});

it('GET /history: every event of one client file and of one save, in order, with offsets', async () => {
  const name = 'db2-delta-1-1';
  const { body } = await get<{ events: HistoryEntry[] }>(`/history?subject=${name}`);
  const types = body.events.map((e) => e.type);
  expect(types).toEqual(expect.arrayContaining(['SaveStarted', 'DsimAcquired', 'ClientFileOpened', 'RunPlaced', 'ClientFileClosed', 'SaveCompleted', 'DlogCaptured', 'DlogDropped', 'DsimCompleted']));
  expect(types.indexOf('SaveStarted')).toBeLessThan(types.indexOf('SaveCompleted'));
  expect(types.indexOf('ClientFileOpened')).toBeLessThan(types.indexOf('ClientFileClosed'));
  for (const e of body.events) expect(e).toMatchObject({ topic: expect.any(String), partition: expect.any(Number), offset: expect.any(Number) });
  // nothing of another save
  expect(body.events.every((e) => JSON.stringify(e.event).includes(name) || ['SaveStarted', 'SaveProgress', 'DsimAcquired', 'DlogCaptured', 'DlogDropped', 'DsimCompleted', 'RunPlaced', 'ClientFileClosed', 'ClientFileExpired'].includes(e.type))).toBe(true);
  expect((await get(`/history?subject=${encodeURIComponent('bad name!')}`)).status).toBe(400);
});

it('GET /verify passes on an intact log, then reports a record rewritten on disk and records deleted, with their offsets', async () => {
  const ok = (await get<VerifyResult>('/verify')).body;
  expect(ok).toMatchObject({ ok: true, difference: null });
  expect(ok.live.digest).toBe(ok.replay.digest);
  expect(ok.chain.checked).toBe(events.length);
  expect(ok.chain.problems).toEqual([]);

  // a SaveCompleted's digest changed in the broker's files while it is stopped (same length, CRC made right)
  const victim = events.find((e) => e.type === 'SaveCompleted' && e.dbid === 3)! as Extract<CatalogEvent, { type: 'SaveCompleted' }>;
  const port = Number(broker.brokers[0].split(':').pop());
  await catalog!.stop();
  catalog = undefined;
  await broker.stop();
  const partitions = [0, 1].filter((p) => fs.existsSync(path.join(dataDir, 'topics', Topic.dsfEvents, String(p))));
  let edited = -1;
  for (const p of partitions) {
    try {
      rewriteRecord(dataDir, Topic.dsfEvents, p, `"digest":"${victim.digest}"`, `"digest":"${victim.digest.slice(0, -1)}${victim.digest.endsWith('0') ? '1' : '0'}"`);
      edited = p;
      break;
    } catch {
      // not in this partition
    }
  }
  expect(edited).toBeGreaterThanOrEqual(0);
  broker = await startEmbeddedKafka({ dataDir, port, numPartitions: 2 });
  catalog = await startCatalog({ brokers: broker.brokers, databaseUrl: db.url, httpPort: 0 });
  // and the first 5 records of sov.events' partition deleted (DeleteRecords)
  const admin = new Kafka({ clientId: 'audit-test', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const sov = (await admin.fetchTopicOffsets(Topic.sovEvents)).find((p) => Number(p.high) > 5)!;
  await admin.fetchTopicMetadata({ topics: [Topic.sovEvents] });
  await admin.deleteTopicRecords({ topic: Topic.sovEvents, partitions: [{ partition: sov.partition, offset: '5' }] });
  await admin.disconnect();

  const res = await get<VerifyResult>('/verify');
  expect(res.body.ok).toBe(false);
  expect(res.body.live.digest).not.toBe(res.body.replay.digest);
  expect(res.body.difference).not.toBeNull();
  const changed = res.body.chain.problems.find((p) => p.problem === 'changed')!;
  expect(changed).toMatchObject({ topic: Topic.dsfEvents, partition: edited });
  // the offset of the victim in its partition
  const [at] = (await get<{ events: HistoryEntry[] }>(`/history?subject=${encodeURIComponent(victim.correlationId)}`)).body.events.filter((e) => e.type === 'SaveCompleted');
  expect(changed.offset).toBe(at.offset);
  expect(res.body.chain.problems).toContainEqual(expect.objectContaining({ topic: Topic.sovEvents, partition: sov.partition, offset: 0, problem: 'missing' }));
});
