/**
 * /health and /metrics of real services on the embedded broker and PostgreSQL, started in-process
 * with HTTP ports: the change logger (records handled and dead-lettered, lag per partition, the
 * DLOG gauges), the catalog behind a token (401 without it, dsf sends HTTP_TOKEN; its database
 * cut off: 503 naming the database, its partition lags, back to 200 once reachable), the save
 * writer (a save's outcome and duration, derived from the events it published), and the reference
 * nucleus through serveHttp. In one process the services share one registry (one per process in
 * production), so counters are compared before and after, labelled by consumer group.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { sampleGeometry } from '@deltaflow/blocks';
import { SMALL_GEOMETRY } from '@deltaflow/blocks/testing';
import { encodeMessage, type AnyMessage } from '@deltaflow/contracts';
import { serveHttp } from '@deltaflow/service-kit';
import { testDatabase, testKafka, type TestDatabase, type TestKafka } from '@deltaflow/testing';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { startCatalog, type RunningCatalog } from '../../apps/catalog/src/app';
import { fixtureStream } from '../../apps/catalog/src/testing/fixture-stream';
import { startChangeLogger, type RunningChangeLogger } from '../../apps/change-logger/src/app';
import { runCli } from '../../apps/cli/src/run';
import { startNucleusSim } from '../../apps/nucleus-sim/src/app';
import { startSaveWriter, type RunningSaveWriter } from '../../apps/save-writer/src/app';
import { parsePrometheus, sampleValue, samplesOf, type PromText } from '../../libs/service-kit/src/observability/testing/prometheus-text';

jest.setTimeout(240_000);

const TOKEN = 'e2e-token-0123456789abcdef';

let kafka: TestKafka;
let db: TestDatabase;
let proxy: PgProxy;
let producer: Producer;
let root: string;
let changeLogger: RunningChangeLogger | undefined;
let catalog: RunningCatalog | undefined;
let saveWriter: RunningSaveWriter | undefined;

/** A TCP relay to the test PostgreSQL: stopping it is the database going away (refused, connections cut). */
interface PgProxy {
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function pgProxy(targetUrl: string): Promise<PgProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const start = async () => {
    const s = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      const cut = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      for (const x of [client, upstream]) {
        sockets.add(x);
        x.on('error', cut);
        x.on('close', cut);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  await start();
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    start,
    async stop() {
      const s = server;
      server = undefined;
      const closed = new Promise((r) => s?.close(r) ?? r(undefined));
      for (const x of sockets) x.destroy();
      await closed;
    },
  };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function get(base: string, p: string, token?: string) {
  const res = await fetch(`${base}${p}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

async function scrape(base: string, token?: string): Promise<PromText> {
  const r = await get(base, '/metrics', token);
  expect(r.status).toBe(200);
  return parsePrometheus(r.text);
}

async function publish(...messages: AnyMessage[]): Promise<void> {
  for (const m of messages) {
    const r = encodeMessage(m);
    await producer.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: { ...r.headers } }] });
  }
}

async function dsf(env: NodeJS.ProcessEnv, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env: { KAFKA_BROKERS: kafka.brokers.join(','), ...env }, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'health-metrics-'));
  kafka = await testKafka({ numPartitions: 3 });
  db = await testDatabase();
  proxy = await pgProxy(db.url);
  producer = new Kafka({ clientId: 'health-metrics-test', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

afterAll(async () => {
  await Promise.all([changeLogger?.stop(), catalog?.stop(), saveWriter?.stop()]);
  await producer?.disconnect();
  await proxy?.stop();
  await db?.drop();
  await kafka?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('health and metrics of running services', () => {
  it('change logger: records handled and dead-lettered, lag of every partition, the DLOG size', async () => {
    const geometry = sampleGeometry();
    changeLogger = await startChangeLogger({
      brokers: kafka.brokers,
      databases: [1, 2, 3].map((dbid) => ({ dbid, geometry })),
      groupId: 'e2e-cl',
      httpPort: 0,
      httpToken: null,
      now: () => 1,
    });
    const base = changeLogger.httpUrl!;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const bc = (dbid: number, rabn: number, lsn: number): AnyMessage => ({ type: 'BlockChanged', dbid, area: 'DATA', rabn, lsn, txn: 1, image: Buffer.alloc(4096, lsn) });
    await publish(bc(1, 1, 1), bc(1, 2, 2), bc(1, 2, 3), bc(2, 5, 1), bc(3, 7, 1), bc(9, 1, 1) /* unknown database: dead-lettered */);
    const cl = changeLogger;
    await until('six records', async () => cl.stats.accepted + cl.stats.rejected >= 6);

    const m = await until('the lag of the three partitions', async () => {
      const s = await scrape(base);
      return samplesOf(s, 'deltaflow_kafka_consumer_lag', { group: 'e2e-cl', topic: 'dsf.block-changes' }).length === 3 && s;
    }, 30_000);
    expect(sampleValue(m, 'deltaflow_kafka_messages_handled_total', { group: 'e2e-cl', topic: 'dsf.block-changes' })).toBe(5);
    expect(sampleValue(m, 'deltaflow_kafka_messages_dead_lettered_total', { group: 'e2e-cl', topic: 'dsf.block-changes', code: 'UNKNOWN_DBID' })).toBe(1);
    const lag = samplesOf(m, 'deltaflow_kafka_consumer_lag', { group: 'e2e-cl', topic: 'dsf.block-changes' });
    expect(lag.map((s) => s.labels.partition).sort()).toEqual(['0', '1', '2']);
    expect(sampleValue(m, 'deltaflow_dlog_blocks', { dbid: '1', area: 'DATA' })).toBe(2);
    expect(sampleValue(m, 'deltaflow_dlog_blocks', { dbid: '3', area: 'DATA' })).toBe(1);
    expect(sampleValue(m, 'deltaflow_dlog_marked_files', { dbid: '1' })).toBe(0);
    expect(sampleValue(m, 'deltaflow_events_published_total', { topic: 'dsf.plog', type: 'PlogImage' })).toBeGreaterThanOrEqual(5);
    expect(sampleValue(m, 'deltaflow_events_published_total', { topic: 'dsf.block-changes.dlq', type: 'DeadLetter' })).toBeGreaterThanOrEqual(1);
    // after a scrape or two every partition is at 0
    await until('lag 0', async () => samplesOf(await scrape(base), 'deltaflow_kafka_consumer_lag', { group: 'e2e-cl' }).every((s) => s.value === 0), 30_000);

    const h = await get(base, '/health');
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: 'ok', service: 'change-logger', checks: { kafka: { status: 'ok' } } });
  });

  it('catalog: token required (dsf sends it), 503 while its database is unreachable, lag while it cannot apply', async () => {
    catalog = await startCatalog({ brokers: kafka.brokers, databaseUrl: proxy.url, httpPort: 0, httpToken: TOKEN, groupId: 'e2e-cat' });
    const base = catalog.httpUrl;

    const refused = await get(base, '/health');
    expect(refused.status).toBe(401);
    expect(refused.json.message).toMatch(/requires a token: send Authorization: Bearer <token>/);
    expect((await get(base, '/health', 'wrong-token-0123456789')).status).toBe(401);
    expect((await get(base, '/metrics')).status).toBe(401);
    expect((await get(base, '/saves?dbid=7')).status).toBe(401);
    expect(await get(base, '/health/live')).toMatchObject({ status: 200, json: { status: 'ok' } });
    const ok = await until('ready', async () => {
      const r = await get(base, '/health', TOKEN);
      return r.status === 200 && r;
    });
    expect(ok.json).toMatchObject({ status: 'ok', service: 'catalog', checks: { kafka: { status: 'ok' }, database: { status: 'ok' }, 'kafka-live': { status: 'ok' } } });

    await publish(...fixtureStream(7));
    await until('the saves of database 7', async () => {
      const r = await get(base, '/saves?dbid=7', TOKEN);
      return r.status === 200 && r.json.length >= 3;
    });
    const withToken = await dsf({ CATALOG_URL: base, HTTP_TOKEN: TOKEN }, 'saves', 'list', '--dbid', '7');
    expect(withToken.code).toBe(0);
    expect(withToken.out).toMatch(/full-1/);
    const without = await dsf({ CATALOG_URL: base }, 'saves', 'list', '--dbid', '7');
    expect(without.code).toBe(1);
    expect(without.err).toMatch(/401 .*requires a token/);
    await until('every event of database 7 counted', async () => {
      const handled = sampleValue(await scrape(base, TOKEN), 'deltaflow_kafka_messages_handled_total', { group: 'e2e-cat', topic: 'dsf.events' }) ?? 0;
      return handled >= fixtureStream(7).length;
    }, 30_000);

    // the database goes away: not ready, naming it; still live
    await proxy.stop();
    const down = await until('503', async () => {
      const r = await get(base, '/health', TOKEN);
      return r.status === 503 && r;
    }, 30_000);
    expect(down.json).toMatchObject({ status: 'unavailable', service: 'catalog', checks: { database: { status: 'failing' } } });
    expect(down.json.reason).toMatch(/^database: (.*ECONNREFUSED|Connection terminated)/);
    expect((await get(base, '/health/ready', TOKEN)).status).toBe(503);
    expect((await get(base, '/health/live')).status).toBe(200);

    // events it cannot apply now: their partition lags, the failures count
    const more = fixtureStream(8).slice(0, 3);
    await publish(...more);
    const lagging = await until('lag 3 on a partition of dsf.events', async () => {
      const s = await scrape(base, TOKEN);
      return samplesOf(s, 'deltaflow_kafka_consumer_lag', { group: 'e2e-cat', topic: 'dsf.events' }).some((x) => x.value === 3) && s;
    }, 60_000);
    expect(sampleValue(lagging, 'deltaflow_kafka_handler_errors_total', { group: 'e2e-cat', topic: 'dsf.events' })).toBeGreaterThan(0);

    // back: ready again, the backlog applied
    await proxy.start();
    await until('200 again', async () => (await get(base, '/health', TOKEN)).status === 200, 30_000);
    await until('the saves of database 8', async () => {
      const r = await get(base, '/saves?dbid=8', TOKEN);
      return r.status === 200 && r.json.length >= 1;
    }, 180_000);
    await until('lag 0', async () => samplesOf(await scrape(base, TOKEN), 'deltaflow_kafka_consumer_lag', { group: 'e2e-cat', topic: 'dsf.events' }).every((x) => x.value === 0), 30_000);
  });

  it('save writer: a save\'s outcome, duration and bytes come from the events it published', async () => {
    const dataDir = path.join(root, 'data');
    BlockDatabase.create(path.join(dataDir, 'databases', '5'), { dbid: 5, geometry: SMALL_GEOMETRY }).close();
    saveWriter = await startSaveWriter({ brokers: kafka.brokers, dataDir, fsync: false, groupId: 'e2e-sw', httpPort: 0, httpToken: null, log: () => undefined });
    const base = saveWriter.httpUrl!;
    const before = await scrape(base);
    const r = await dsf({}, 'save', '--dbid', '5', '--full', '--offline', '--dest', 'full-5', '--timeout', '60');
    expect(r.code).toBe(0);
    const after = await scrape(base);
    const delta = (name: string, labels: Record<string, string>) => (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
    expect(delta('deltaflow_operations_total', { operation: 'save', outcome: 'completed' })).toBe(1);
    expect(delta('deltaflow_operation_duration_seconds_count', { operation: 'save', outcome: 'completed' })).toBe(1);
    expect(delta('deltaflow_bytes_written_total', { kind: 'save' })).toBe(fs.statSync(path.join(dataDir, 'datasets', 'full-5')).size);
    expect(delta('deltaflow_blocks_written_total', { kind: 'save' })).toBeGreaterThan(0);
    expect(delta('deltaflow_events_published_total', { topic: 'dsf.events', type: 'SaveStarted' })).toBe(1);
    expect(delta('deltaflow_events_published_total', { topic: 'dsf.commands', type: 'SaveRequested' })).toBe(1); // dsf, in this process
    expect((await get(base, '/health')).json).toMatchObject({ status: 'ok', service: 'save-writer' });
  });

  it('reference nucleus: the same endpoints through serveHttp, not ready once stopped', async () => {
    const sim = await startNucleusSim({ brokers: kafka.brokers, dataDir: path.join(root, 'sim'), dbid: 4, autoStart: false, syncIntervalMs: 0, geometry: SMALL_GEOMETRY });
    const http = await serveHttp({ service: 'nucleus-sim', httpPort: 0, httpToken: TOKEN, checks: [{ name: 'kafka-db4', check: () => sim.unready() }] });
    try {
      const ok = await until('ready', async () => {
        const r = await get(http.httpUrl, '/health', TOKEN);
        return r.status === 200 && r;
      });
      expect(ok.json).toMatchObject({ status: 'ok', service: 'nucleus-sim', checks: { 'kafka-db4': { status: 'ok' } } });
      expect((await get(http.httpUrl, '/metrics')).status).toBe(401);
      const before = sampleValue(await scrape(http.httpUrl, TOKEN), 'deltaflow_events_published_total', { topic: 'dsf.block-changes', type: 'BlockChanged' }) ?? 0;
      await sim.runTransactions(2);
      const after = sampleValue(await scrape(http.httpUrl, TOKEN), 'deltaflow_events_published_total', { topic: 'dsf.block-changes', type: 'BlockChanged' }) ?? 0;
      expect(after - before).toBe(8); // 4 blocks a transaction
      await sim.stop();
      const stopped = await get(http.httpUrl, '/health', TOKEN);
      expect(stopped.status).toBe(503);
      expect(stopped.json.reason).toBe('kafka-db4: stopped');
      expect((await get(http.httpUrl, '/health/live')).status).toBe(200);
    } finally {
      await sim.stop();
      await http.stop();
    }
  });
});
