import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka } from '@deltaflow/embedded-kafka';
import { client, consumeUntil, uniqueName } from './kafka-helpers';
import { brokerProcessFails, processState, startBrokerProcess, type BrokerProcess } from './broker-process';
import { frame, rawExchange } from './raw-socket';

const produceResponseV7 = require('kafkajs/src/protocol/requests/produce/v7/response');

/** The broker as a process: its data-directory lock under kill -9 and restarts. */
describe('embedded broker process: data-directory lock', () => {
  const started: BrokerProcess[] = [];
  const dirs: string[] = [];
  const tempDir = (prefix: string) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const b of started) {
      try {
        process.kill(b.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      b.cleanup();
    }
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('restarts at once after kill -9 while the killed broker is still an unreaped zombie, 12 times in a row', async () => {
    const dir = tempDir('ek-lock-');
    const topic = uniqueName('restart');
    let b = await startBrokerProcess(dir, ['--fsync', 'never'], { unreaped: true });
    started.push(b);
    for (let i = 0; i < 12; i++) {
      const producer = client([b.listening], { retry: { retries: 2 } }).producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ value: `life-${i}` }] });
      await producer.disconnect();
      await b.kill9();
      expect(processState(b.pid)).toBe('Z'); // dead but not reaped: exactly what a pid file cannot see through
      const next = await startBrokerProcess(dir, ['--fsync', 'never'], { unreaped: true });
      started.push(next);
      expect(processState(b.pid)).toBe('Z'); // the successor started while its predecessor was still a zombie
      b.cleanup();
      b = next;
    }
    const got = await consumeUntil(client([b.listening]), { groupId: uniqueName('g'), topic }, (g) => g.length >= 12);
    expect(got.map((m) => m.value.toString())).toEqual(Array.from({ length: 12 }, (_, i) => `life-${i}`));
    expect(await b.stop()).toBeNull();
  }, 180_000);

  it('still refuses a second live broker on the same directory, naming the holder pid', async () => {
    const dir = tempDir('ek-lock2-');
    const first = await startBrokerProcess(dir);
    started.push(first);
    const second = await brokerProcessFails(dir);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`data directory ${dir} is in use by another broker (pid ${first.pid})`);
    expect(fs.readFileSync(path.join(dir, 'broker.lock'), 'utf8').trim()).toBe(String(first.pid));
    // The same directory through a symlink is the same lock (the lock name comes from the real path).
    const link = path.join(tempDir('ek-link-'), 'alias');
    fs.symlinkSync(dir, link);
    await expect(startEmbeddedKafka({ dataDir: link, logLevel: 'silent' })).rejects.toThrow(/in use by another broker/);
    expect(await first.stop()).toBe(0);
    expect(fs.existsSync(path.join(dir, 'broker.lock'))).toBe(false);
    // Released: an in-process broker can take it now.
    const k = await startEmbeddedKafka({ dataDir: link, logLevel: 'silent' });
    await k.stop();
  }, 60_000);
});

/** A forward in front of a broker that keeps a copy of every request frame clients send. */
async function recordingForwarder(): Promise<{ port: number; target: number; frames: Buffer[]; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, target: 0, frames: [] as Buffer[], close: () => new Promise<void>((r) => server.close(() => r())) };
  const server = net.createServer((inbound) => {
    const outbound = net.connect(state.target, '127.0.0.1');
    let pending = Buffer.alloc(0);
    inbound.on('data', (d) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const n = 4 + pending.readInt32BE(0);
        state.frames.push(Buffer.from(pending.subarray(0, n)));
        pending = pending.subarray(n);
      }
      outbound.write(d);
    });
    outbound.pipe(inbound);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.port = (server.address() as net.AddressInfo).port;
  const close = state.close;
  state.close = () => {
    for (const s of sockets) s.destroy();
    return close();
  };
  return state;
}

/** InitProducerId v1 on a raw socket: a fresh idempotent producer id. */
async function initProducerId(port: number): Promise<number> {
  const body = Buffer.alloc(6);
  body.writeInt16BE(-1, 0); // transactional_id null
  body.writeInt32BE(60000, 2);
  const { responses } = await rawExchange(port, frame(22, 1, 5, body), { frames: 1 });
  expect(responses[0].readInt16BE(8)).toBe(0);
  return Number(responses[0].readBigInt64BE(10));
}

/** Topic, partition and producer id of a single-partition Produce v3+ frame (size prefix included). */
function describeProduce(f: Buffer): { topic: string; partition: number; producerId: number } {
  let o = 4 + 2 + 2 + 4;
  o += 2 + Math.max(0, f.readInt16BE(o)); // client id
  o += 2 + Math.max(0, f.readInt16BE(o)); // transactional id
  o += 2 + 4 + 4; // acks, timeout, topic count
  const tl = f.readInt16BE(o);
  const topic = f.toString('utf8', o + 2, o + 2 + tl);
  o += 2 + tl + 4; // name, partition count
  const partition = f.readInt32BE(o);
  o += 4 + 4; // partition, records length
  return { topic, partition, producerId: Number(f.readBigInt64BE(o + 43)) };
}

describe('embedded broker process: idempotent producers across kill -9', () => {
  const started: BrokerProcess[] = [];
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-idem-'))));
  afterAll(() => {
    for (const b of started) if (b.child.exitCode === null) b.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges a Produce retried after a restart with its original offsets, stores it once, never reuses a producer id', async () => {
    const fwd = await recordingForwarder();
    const a = await startBrokerProcess(dir, ['--advertised-port', String(fwd.port), '--partitions', '2']);
    started.push(a);
    fwd.target = a.port;
    const before = await initProducerId(a.port);
    const topic = uniqueName('idem');
    const producer = client([`127.0.0.1:${fwd.port}`]).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const original = new Map<number, string[]>(); // partition -> base offsets, in send order
    for (let i = 0; i < 6; i++) {
      const [r] = await producer.send({ topic, acks: -1, messages: [{ partition: i % 2, value: `m${i}` }, { partition: i % 2, value: `m${i}-b` }] });
      original.set(r.partition, [...(original.get(r.partition) ?? []), r.baseOffset!]);
    }
    await producer.disconnect();
    const produces = fwd.frames.filter((f) => f.readInt16BE(4) === 0);
    expect(produces).toHaveLength(6);
    expect(produces.every((f) => f.readInt16BE(6) === 7)).toBe(true); // kafkajs sends Produce v7
    expect(describeProduce(produces[1])).toMatchObject({ topic, partition: 1 });
    const kafkajsPid = describeProduce(produces[0]).producerId;
    expect(kafkajsPid).toBeGreaterThan(before);
    await fwd.close();
    await a.kill9(); // no clean shutdown: no producer-state snapshot, rebuilt from the log

    const resend = async (port: number) => {
      const seen = new Map<number, string[]>();
      for (const f of produces) {
        const { responses } = await rawExchange(port, f, { frames: 1 });
        const p = (await produceResponseV7.decode(responses[0].subarray(4))).topics[0].partitions[0];
        expect(p.errorCode).toBe(0);
        seen.set(p.partition, [...(seen.get(p.partition) ?? []), p.baseOffset]);
      }
      return seen;
    };
    const b = await startBrokerProcess(dir);
    started.push(b);
    expect(await resend(b.port)).toEqual(original);
    const admin = client([b.listening]).admin();
    await admin.connect();
    expect((await admin.fetchTopicOffsets(topic)).sort((x, y) => x.partition - y.partition).map((o) => o.high)).toEqual(['6', '6']);
    await admin.disconnect();
    expect(await initProducerId(b.port)).toBeGreaterThan(kafkajsPid);
    await b.kill9();

    // Even without the producer-id mark, ids continue above every id in the logs.
    fs.rmSync(path.join(dir, 'producer-ids'));
    const c = await startBrokerProcess(dir);
    started.push(c);
    expect(await initProducerId(c.port)).toBeGreaterThan(kafkajsPid);
    expect(await resend(c.port)).toEqual(original);
    const got = await consumeUntil(client([c.listening]), { groupId: uniqueName('g'), topic }, (g) => g.length >= 12);
    expect(got.map((m) => m.value.toString()).sort()).toEqual(Array.from({ length: 6 }, (_, i) => [`m${i}`, `m${i}-b`]).flat().sort());
    expect(await c.stop()).toBe(0);
  }, 120_000);
});
