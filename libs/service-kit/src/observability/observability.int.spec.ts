/**
 * runService's HTTP side on the embedded broker, with a service of its own (no app): /metrics
 * counts handled and dead-lettered records and reports the lag of every assigned partition (also
 * while a handler holds one back), /health follows the transport (200 while it consumes, 503 once
 * stopped or when the broker is gone), /health/live stays 200.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Controller, Module } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { runService, type RunningService } from '../bootstrap';
import { RejectedRecord } from '../errors';
import type { KafkaEventServerOptions } from '../kafka/kafka-event-server';
import { parsePrometheus, sampleValue, samplesOf } from './testing/prometheus-text';

jest.setTimeout(120_000);

const TOPIC = 'obs.test';
let gate: Promise<void> = Promise.resolve();
const handled: number[] = [];
let bugOnce = true;

@Controller()
class TestController {
  @EventPattern(TOPIC)
  async on(@Payload() m: { n: number }): Promise<void> {
    if (m.n < 0) throw new RejectedRecord('NEGATIVE', `n is ${m.n}`);
    if (m.n === 100) await gate;
    if (m.n === 13 && bugOnce) {
      bugOnce = false;
      // a programming error: kafkajs would stop the consumer for good; the transport retries it
      (undefined as unknown as { x: number }).x.toFixed();
    }
    handled.push(m.n);
  }
}

@Module({ controllers: [TestController] })
class TestModule {}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('runService: /health and /metrics', () => {
  let dir: string;
  let broker: EmbeddedKafka;
  let producer: Producer;
  let svc: RunningService | undefined;

  const kafkaOptions = (groupId: string): KafkaEventServerOptions => ({
    brokers: broker.brokers,
    clientId: 'obs-test',
    groupId,
    fromBeginning: true,
    sessionTimeout: 6_000,
    heartbeatInterval: 1_000,
    staleAfterMs: 3_000,
    lagIntervalMs: 0,
    decode: (_topic, m) => JSON.parse(m.value!.toString()),
    encodeDeadLetter: (d) => ({ topic: `${d.sourceTopic}.dlq`, key: d.key?.toString() ?? null, value: Buffer.from(JSON.stringify({ code: d.error.code })) }),
  });
  const send = (...ns: Array<[key: string, n: number]>) =>
    producer.send({ topic: TOPIC, acks: -1, messages: ns.map(([key, n]) => ({ key, value: JSON.stringify({ n }) })) });
  const get = async (p: string) => {
    const res = await fetch(`${svc!.httpUrl}${p}`);
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) as Record<string, any> };
  };
  const metrics = async () => parsePrometheus((await get('/metrics')).text);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'obs-int-'));
    broker = await startEmbeddedKafka({ dataDir: dir, port: 0, numPartitions: 3, fsync: 'never', logLevel: 'silent' });
    producer = new Kafka({ brokers: broker.brokers, clientId: 'obs-producer', logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    await svc?.stop();
    await producer?.disconnect();
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('counts handled and dead-lettered records, reports lag per partition, and follows the transport', async () => {
    await send(['a', 1], ['b', 2], ['c', 3], ['d', 4], ['e', -1], ['f', 5]);
    svc = await runService({ name: 'obs-test', module: TestModule, kafka: kafkaOptions('obs'), http: { httpPort: 0, httpToken: null } });
    await until('six records', async () => handled.length >= 5);
    const m1 = await until('the counters', async () => {
      const m = await metrics();
      return (sampleValue(m, 'deltaflow_kafka_messages_dead_lettered_total', { group: 'obs', topic: TOPIC, code: 'NEGATIVE' }) ?? 0) >= 1 && m;
    });
    expect(sampleValue(m1, 'deltaflow_kafka_messages_handled_total', { group: 'obs', topic: TOPIC })).toBe(5);
    expect(sampleValue(m1, 'deltaflow_kafka_consumer_ready', { group: 'obs' })).toBe(1);
    expect(m1.types.get('deltaflow_kafka_handler_duration_seconds')).toBe('histogram');

    // lag of every assigned partition: 0 once consumed and committed
    await until('lag 0 on the three partitions', async () => {
      await svc!.transport!.refreshLag();
      const lag = samplesOf(await metrics(), 'deltaflow_kafka_consumer_lag', { group: 'obs', topic: TOPIC });
      return lag.length === 3 && lag.every((s) => s.value === 0);
    });

    // a handler holding a record back: its partition lags by the records behind it, /health stays 200 (busy is not stale)
    let release!: () => void;
    gate = new Promise<void>((r) => (release = r));
    await send(['k', 100], ['k', 6], ['k', 7], ['k', 8]);
    const held = await until('lag 4 on one partition', async () => {
      await svc!.transport!.refreshLag();
      const lag = samplesOf(await metrics(), 'deltaflow_kafka_consumer_lag', { group: 'obs', topic: TOPIC });
      return lag.find((s) => s.value === 4);
    });
    expect(held.labels.partition).toMatch(/^[0-2]$/);
    await new Promise((r) => setTimeout(r, 3_500)); // past staleAfterMs
    const busy = await get('/health');
    expect(busy.status).toBe(200);
    expect(busy.json()).toMatchObject({ status: 'ok', service: 'obs-test', checks: { kafka: { status: 'ok' }, 'kafka-live': { status: 'ok' } } });
    release();
    await until('lag 0 again', async () => {
      await svc!.transport!.refreshLag();
      return samplesOf(await metrics(), 'deltaflow_kafka_consumer_lag', { group: 'obs', topic: TOPIC }).every((s) => s.value === 0);
    });

    // a handler failing with a TypeError once: retried (not dead-lettered, the consumer not stopped)
    await send(['t', 13]);
    await until('13 handled after a retry', async () => handled.includes(13));
    const retried = await metrics();
    expect(sampleValue(retried, 'deltaflow_kafka_handler_errors_total', { group: 'obs', topic: TOPIC })).toBe(1);
    expect(sampleValue(retried, 'deltaflow_kafka_messages_dead_lettered_total', { group: 'obs', topic: TOPIC, code: 'NEGATIVE' })).toBe(1);
    expect((await get('/health')).status).toBe(200);

    // the transport stopped: not ready (503 with the reason), still live
    await svc.transport!.close();
    const stopped = await get('/health');
    expect(stopped.status).toBe(503);
    expect(stopped.json()).toMatchObject({ status: 'unavailable', reason: 'kafka: kafka transport: stopped', checks: { kafka: { status: 'failing' } } });
    expect((await get('/health/ready')).status).toBe(503);
    expect(await get('/health/live')).toMatchObject({ status: 200 });
    expect((await get('/health/live')).json()).toEqual({ status: 'ok' });
    // its series left the registry with it
    expect(samplesOf(await metrics(), 'deltaflow_kafka_consumer_lag', { group: 'obs' })).toEqual([]);
    await svc.stop();
    svc = undefined;
  });

  it('is not ready while the broker is gone (no fetch within staleAfterMs), live all along, ready again once it is back', async () => {
    svc = await runService({ name: 'obs-test', module: TestModule, kafka: kafkaOptions('obs-2'), http: { httpPort: 0, httpToken: null } });
    await until('ready', async () => (await get('/health')).status === 200);
    await broker.stop();
    const down = await until('503', async () => {
      const r = await get('/health');
      return r.status === 503 && r.json();
    }, 30_000);
    expect(down.reason).toMatch(/^kafka: kafka consumer: (no fetch or heartbeat for \d+ s|restarting after a crash)/);
    expect((await get('/health/live')).status).toBe(200);
    expect(sampleValue(await metrics(), 'deltaflow_kafka_consumer_ready', { group: 'obs-2' })).toBe(0);

    // the broker back on its port: the consumer rejoins
    broker = await startEmbeddedKafka({ dataDir: dir, port: Number(broker.brokers[0].split(':')[1]), numPartitions: 3, fsync: 'never', logLevel: 'silent' });
    await until('200 again', async () => (await get('/health')).status === 200, 60_000);
    expect(sampleValue(await metrics(), 'deltaflow_kafka_consumer_ready', { group: 'obs-2' })).toBe(1);
  });
});
