/**
 * The auditor's dsf commands against the real catalog (embedded broker, PostgreSQL): `dsf catalog
 * at`, `dsf history`, `dsf catalog verify`, their texts, --json shapes, exit codes and usage errors.
 */
import { encodeMessage, Topic } from '@deltaflow/contracts';
import { testDatabase, testKafka, type TestDatabase, type TestKafka } from '@deltaflow/testing';
import { Kafka, logLevel } from 'kafkajs';
import { runCli } from '../../apps/cli/src/run';
import { startCatalog, type RunningCatalog } from '../../apps/catalog/src/app';
import { replay } from '../../apps/catalog/src/replay';
import { catalogHistory } from '../../apps/catalog/src/testing/history';

jest.setTimeout(60_000);

let kafka: TestKafka;
let db: TestDatabase;
let catalog: RunningCatalog;
const events = catalogHistory({ events: 300, databases: 2 });

async function dsf(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env: { KAFKA_BROKERS: kafka.brokers.join(','), CATALOG_URL: catalog.httpUrl }, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

beforeAll(async () => {
  kafka = await testKafka();
  db = await testDatabase();
  const producer = new Kafka({ clientId: 'audit-e2e', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const byTopic = new Map<string, Array<{ key: string | null; value: Buffer; headers: Record<string, string> }>>();
  for (const e of events) {
    const r = encodeMessage(e);
    byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), { key: r.key, value: r.value as Buffer, headers: r.headers as Record<string, string> }]);
  }
  await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  await producer.disconnect();
  catalog = await startCatalog({ brokers: kafka.brokers, databaseUrl: db.url, httpPort: 0 });
  // caught up: the live digest is the one a replay of the whole log gives
  const { digest } = await replay({ brokers: kafka.brokers, databaseUrl: db.url, schema: 'e2e_expect' });
  const deadline = Date.now() + 30_000;
  while (((await (await fetch(`${catalog.httpUrl}/state-digest`)).json()) as { digest: string }).digest !== digest) {
    if (Date.now() > deadline) throw new Error('the catalog did not catch up');
    await new Promise((r) => setTimeout(r, 200));
  }
});

afterAll(async () => {
  await catalog?.stop();
  await kafka?.stop();
  await db?.drop();
});

it('dsf catalog at --offset N: the saves and the digest at that point; --json the whole state', async () => {
  const text = await dsf('catalog', 'at', '--offset', '10');
  expect(text.code).toBe(0);
  expect(text.out[0]).toMatch(/^as of dsf\.events offset 10 \(time cut \d{4}-.*\): \d+ records$/);
  expect(text.out.join('\n')).toMatch(/digest [0-9a-f]{64}/);
  const json = await dsf('catalog', 'at', '--offset', '10', '--json');
  const body = JSON.parse(json.out[0]) as { ok: boolean; asOf: { positions: Record<string, Record<string, number>> }; saves: unknown[]; digest: string };
  expect(body).toMatchObject({ ok: true, command: 'catalog at' });
  expect(body.asOf.positions[Topic.dsfEvents]).toEqual({ '0': 11 });
  // one row per save or merge among the first 11 records of dsf.events
  const first = events.filter((e) => encodeMessage(e).topic === Topic.dsfEvents).slice(0, 11);
  const saves = new Set(first.flatMap((e) => (['SaveStarted', 'SaveCompleted', 'SaveFailed', 'MergeCompleted'].includes(e.type) ? [(e as { correlationId: string }).correlationId] : [])));
  expect(saves.size).toBeGreaterThan(1);
  expect(body.saves).toHaveLength(saves.size);
  const later = JSON.parse((await dsf('catalog', 'at', '--time', new Date().toISOString(), '--json')).out[0]) as { digest: string };
  expect(later.digest).not.toBe(body.digest);
});

it('dsf history NAME: the events of one client file, with topic, partition and offset', async () => {
  const r = await dsf('history', 'db1-full-1');
  expect(r.code).toBe(0);
  expect(r.out[0]).toBe('TIME\tTOPIC[PARTITION]@OFFSET\tTYPE\tEVENT');
  expect(r.out.some((l) => /\tsov\.events\[0\]@\d+\tClientFileOpened\t/.test(l))).toBe(true);
  expect(r.out.some((l) => /\tdsf\.events\[0\]@\d+\tSaveCompleted\t/.test(l))).toBe(true);
  const json = JSON.parse((await dsf('history', 'db1-full-1', '--json')).out[0]) as { events: Array<{ type: string }> };
  expect(json.events.length).toBe(r.out.length - 1);
});

it('dsf catalog verify prints both digests; usage errors exit 2 and ask nothing', async () => {
  const r = await dsf('catalog', 'verify');
  expect(r.code).toBe(0);
  expect(r.out[0]).toMatch(/^live digest {3}[0-9a-f]{64}$/);
  expect(r.out[1].slice(14, 78)).toBe(r.out[0].slice(14, 78));
  expect(r.out[r.out.length - 1]).toBe('verified: the live catalog is what the log says');
  for (const argv of [['catalog', 'at'], ['catalog', 'at', '--offset', '-3'], ['catalog', 'at', '--time', 'yesterday'], ['catalog', 'at', '--sov-offset', '2'], ['history', 'bad name!']]) {
    const bad = await dsf(...argv);
    expect({ argv, code: bad.code }).toEqual({ argv, code: 2 });
  }
});
