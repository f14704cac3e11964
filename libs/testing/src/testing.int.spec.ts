import fs from 'node:fs';
import { Client } from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { tempDir } from './temp-dir';
import { testDatabase, TEST_PG_URL_ENV } from './test-database';
import { testKafka } from './test-kafka';

async function canConnect(url: string): Promise<boolean> {
  const c = new Client({ connectionString: url });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('@deltaflow/testing', () => {
  it('sees the PostgreSQL URL that globalSetup published to this worker', () => {
    expect(process.env[TEST_PG_URL_ENV]).toMatch(/^postgres(ql)?:\/\//);
  });

  it('testDatabase gives fresh, separate databases, and drop removes them', async () => {
    const a = await testDatabase();
    const b = await testDatabase();
    expect(a.url).not.toBe(b.url);
    const c = new Client({ connectionString: a.url });
    await c.connect();
    await c.query('CREATE TABLE only_in_a (x int)');
    await c.end();
    const d = new Client({ connectionString: b.url });
    await d.connect();
    const r = await d.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'only_in_a'");
    await d.end();
    expect(r.rows[0].n).toBe(0);
    // drop works even with a connection left open, and is idempotent
    const open = new Client({ connectionString: a.url });
    await open.connect();
    open.on('error', () => undefined);
    await a.drop();
    await a.drop();
    await b.drop();
    expect(await canConnect(a.url)).toBe(false);
    await open.end().catch(() => undefined);
  });

  it('tempDir makes fresh directories and rejects unsafe prefixes', () => {
    const a = tempDir('x-test');
    const b = tempDir('x-test');
    expect(a).not.toBe(b);
    expect(fs.readdirSync(a)).toEqual([]);
    fs.rmSync(a, { recursive: true });
    fs.rmSync(b, { recursive: true });
    expect(() => tempDir('../escape')).toThrow(/prefix/);
  });

  it('testKafka starts a broker that kafkajs can produce to, and stop removes it', async () => {
    const k = await testKafka();
    try {
      const producer = new Kafka({ clientId: 't', brokers: k.brokers, logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: true });
      await producer.connect();
      const [meta] = await producer.send({ topic: 'testing-probe', acks: -1, messages: [{ value: 'x' }] });
      expect(meta.errorCode).toBe(0);
      await producer.disconnect();
    } finally {
      await k.stop();
    }
  });
});
