import { decodeFrom, encodeMessage } from '@deltaflow/contracts';
import { pollUntil, testDatabase, testKafka, type TestDatabase, type TestKafka } from '@deltaflow/testing';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startCatalog, type RunningCatalog } from './app';
import { fixtureStream } from './testing/fixture-stream';
import { INC, sovFixtureStream } from './testing/sov-fixture-stream';
import { Client } from 'pg';
import { replay, replayLockKey } from './replay';
import type { SaveView } from './saves/saves.projection';

jest.setTimeout(180_000);

let kafka: TestKafka;
let db: TestDatabase;
let producer: Producer;
let catalog: RunningCatalog | undefined;

const stopCatalog = async () => {
  const running = catalog;
  catalog = undefined;
  await running?.stop();
};
const start = async () => {
  await stopCatalog(); // never two instances of one test in the group
  catalog = await startCatalog({ brokers: kafka.brokers, databaseUrl: db.url, httpPort: 0 });
};
const get = async (path: string) => {
  const res = await fetch(`${catalog!.httpUrl}${path}`);
  return { status: res.status, body: (await res.json()) as unknown };
};
const until = <T>(what: string, fn: () => Promise<T | undefined>, ms = 90_000): Promise<T> => pollUntil(what, fn, { ms, everyMs: 200 });
const savesOf = async (dbid: number) => (await get(`/saves?dbid=${dbid}`)).body as SaveView[];
const publish = async (...events: Array<ReturnType<typeof fixtureStream>[number] | ReturnType<typeof sovFixtureStream>[number]>) => {
  for (const e of events) {
    const r = encodeMessage(e);
    await producer.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: r.headers }] });
  }
};

beforeAll(async () => {
  kafka = await testKafka();
  db = await testDatabase();
  producer = new Kafka({ clientId: 'catalog-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: true });
  await producer.connect();
});

afterEach(stopCatalog);

afterAll(async () => {
  await stopCatalog();
  await producer?.disconnect();
  await db?.drop();
  await kafka?.stop();
});

it('consumes dsf.events into the read models across a restart, dead-letters bad records, and replays to the same digest', async () => {
  const stream = fixtureStream(7);
  const other = fixtureStream(8).slice(0, 3);
  await publish(...stream.slice(0, 6), ...other, ...sovFixtureStream().slice(0, 10));
  await start();
  // Mid-stream: c1 completed, c2 completed (its DSIM acquired).
  await until('first half', async () => {
    const s = await savesOf(7);
    return s.length === 2 && s.every((x) => x.status === 'completed') ? s : undefined;
  });
  await stopCatalog();

  // While the catalog is down: the rest of the stream, a malformed record, and a redelivered event.
  await producer.send({ topic: 'dsf.events', acks: -1, messages: [{ key: '7', value: Buffer.from('not an envelope') }] });
  await publish(...stream.slice(6), stream[2], ...sovFixtureStream().slice(10), sovFixtureStream()[5]);
  await start();

  const saves = await until('all saves of 7', async () => {
    const s = await savesOf(7);
    return s.length === 6 && s[5].status === 'completed' ? s : undefined;
  });
  expect(saves.map((s) => `${s.correlationId}:${s.status}`)).toEqual(['c1:completed', 'c2:completed', 'c3:failed', 'c9:failed', 'm1:completed', 'c5:completed']);
  expect((await savesOf(8)).map((s) => `${s.correlationId}:${s.status}`)).toEqual(['c1:completed']);
  expect((await get('/dsims?dbid=7')).body).toEqual([expect.objectContaining({ status: 'reset', endLsn: 180, path: 'dsim-1' })]);
  expect(((await get('/lineages?dbid=7')).body as Array<{ lineage: string }>).map((l) => l.lineage)).toEqual(['L7a', 'L7b']);
  expect((await get('/databases')).body).toEqual([7, 8]);

  // The malformed record went to dsf.events.dlq with its reason.
  const dlq = await readAll(kafka.brokers, 'dsf.events.dlq', 1);
  const dead = decodeFrom('dsf.events.dlq', dlq[0]);
  expect(dead).toMatchObject({ type: 'DeadLetter', sourceTopic: 'dsf.events', consumerGroup: 'deltaflow.catalog', originalKey: '7' });
  expect(dead.type === 'DeadLetter' && dead.reason).toMatch(/magic|envelope/i);

  // Bad queries: 400 with a clear message, nothing else.
  for (const q of ['/saves?dbid=abc', '/saves', '/dsims?dbid=0', '/lineages?dbid=70000']) {
    const r = await get(q);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/dbid: (expected an integer in \[1, 65535\]|required)/);
  }

  // Every record applied (the group committed to the end of dsf.events and sov.events: the saves
  // showing says nothing of sov.events, a topic of its own consumed beside it): the live digest is at
  // the end of the log; a replay from 0 gives the same digest.
  await until('the catalog at the end of dsf.events and sov.events', () => committedToEnd(kafka.brokers, 'deltaflow.catalog', ['dsf.events', 'sov.events']));
  const live = (await get('/state-digest')).body as { digest: string; rows: Record<string, number> };
  expect(live.rows).toEqual({ catalog_save: 7, catalog_dsim: 1, catalog_lineage: 3, catalog_restore: 0, catalog_dlog: 0, catalog_sov_stream: 1, catalog_sov_device: 2, catalog_sov_volume: 2, catalog_sov_client_file: 4, catalog_sov_run: 5, catalog_sov_verification: 3, catalog_schedule: 0, catalog_schedule_step: 0, catalog_retention: 0 });

  // The streaming queries.
  expect(((await get('/streams')).body as Array<{ stream: string }>).map((x) => x.stream)).toEqual(['NIGHTLY']);
  expect(((await get('/client-files?stream=NIGHTLY&dbid=7')).body as Array<{ clientFile: string; state: string }>).map((f) => `${f.clientFile}:${f.state}`)).toEqual([
    'db7-full-1:closed',
    'db7-delta-1:closed',
    'db7-try:aborted',
  ]);
  expect(((await get('/volumes')).body as Array<{ volser: string; clientFiles: unknown[] }>).map((v) => [v.volser, v.clientFiles.length])).toEqual([
    ['V00001', 2],
    ['V00002', 3],
  ]);
  // verifications, newest first, and each volume's latest on /volumes
  const verified = (await get('/verifications?volser=V00001')).body as Array<{ ok: boolean; trigger: string; problems: Array<{ position: number }> }>;
  expect(verified.map((v) => [v.ok, v.trigger])).toEqual([
    [false, 'operator'],
    [true, 'scrub'],
  ]);
  expect(verified[0].problems).toEqual([expect.objectContaining({ volser: 'V00001', position: 600, kind: 'damage' })]);
  expect((await get('/verifications?clientFile=db7-delta-1')).body).toEqual([expect.objectContaining({ subject: 'client-file', ok: true, incarnation: INC.delta })]);
  expect((await get('/verifications?correlationId=cli-verify-1')).body).toHaveLength(1);
  expect(((await get('/volumes')).body as Array<{ volser: string; verified?: { ok: boolean } }>).map((v) => [v.volser, v.verified?.ok])).toEqual([
    ['V00001', false],
    ['V00002', undefined],
  ]);
  expect((await get('/verifications?volser=v1')).status).toBe(400);
  expect((await get(`/client-files/${INC.full}/placements`)).body).toMatchObject({ state: 'closed', volsers: ['V00001', 'V00002'], close: { superblocks: 19 } });
  expect((await get('/client-files/99999999-9999-4999-8999-999999999999/placements')).status).toBe(404);
  for (const q of ['/client-files/nope/placements', '/client-files?dbid=x', '/client-files?state=gone', '/volumes?stream=a%2Fb']) expect((await get(q)).status).toBe(400);
  const rebuilt = await replay({ brokers: kafka.brokers, databaseUrl: db.url });
  expect(rebuilt.skipped).toBe(1);
  expect(rebuilt.digest).toBe(live.digest);
  // A replay up to an earlier offset is a different (earlier) state.
  const early = await replay({ brokers: kafka.brokers, databaseUrl: db.url, toOffset: 2n });
  expect(early.digest).not.toBe(live.digest);
  expect(early.rows.catalog_save).toBeLessThan(7);

  // One rebuild per schema at a time: while the lock is held elsewhere, replay refuses.
  const holder = new Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [replayLockKey('catalog_replay')]);
    await expect(replay({ brokers: kafka.brokers, databaseUrl: db.url })).rejects.toMatchObject({ code: 'CONCURRENCY' });
  } finally {
    await holder.end();
  }
  // The live read models were never touched by the replays.
  expect(((await get('/state-digest')).body as { digest: string }).digest).toBe(live.digest);
});

it('loses and duplicates nothing when stopped while consuming a burst', async () => {
  const T = Date.UTC(2026, 10, 22, 12);
  const burst = Array.from({ length: 120 }, (_, i) => {
    const dsid = { full: i + 1, deltaFrom: 0, deltaTo: 0, timestamp: T + i, lineage: 'B9' };
    return [
      { type: 'SaveStarted' as const, correlationId: `b${i}`, dbid: 9, dsid, kind: 'full' as const, online: false, occurredAt: T + i },
      { type: 'SaveCompleted' as const, correlationId: `b${i}`, dbid: 9, dsid, kind: 'full' as const, online: false, location: { kind: 'directory' as const, name: `b${i}` }, blocks: i, bytes: i * 4096, digest: 'feedfacecafe', occurredAt: T + i },
    ];
  }).flat();
  await publish(...burst);
  await start();
  // Stop as soon as part of the burst is in: the consumer is mid-stream.
  await until('part of the burst', async () => ((await savesOf(9)).length > 0 ? true : undefined), 90_000);
  await stopCatalog();
  await start();
  const saves = await until('the whole burst', async () => {
    const s = await savesOf(9);
    return s.length === 120 && s.every((x) => x.status === 'completed') ? s : undefined;
  });
  expect(saves.map((s) => s.correlationId)).toEqual(burst.filter((e) => e.type === 'SaveStarted').map((e) => e.correlationId));
  expect(saves.map((s) => s.blocks)).toEqual(Array.from({ length: 120 }, (_, i) => i));
  const live = (await get('/state-digest')).body as { digest: string };
  expect((await replay({ brokers: kafka.brokers, databaseUrl: db.url })).digest).toBe(live.digest);
});

/** true once `groupId` committed every partition of `topics` up to its end. */
async function committedToEnd(brokers: string[], groupId: string, topics: string[]): Promise<true | undefined> {
  const admin = new Kafka({ clientId: 'catalog-test-admin', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const end of await admin.fetchTopicOffsets(topic)) {
        const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
        if (BigInt(at) < BigInt(end.high)) return undefined;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

async function readAll(brokers: string[], topic: string, atLeast: number): Promise<Buffer[]> {
  const consumer = new Kafka({ clientId: 'catalog-test-dlq', brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: `catalog-test-${Date.now()}` });
  const values: Buffer[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fewer than ${atLeast} records on ${topic}`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value) values.push(message.value);
          if (values.length >= atLeast) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}
