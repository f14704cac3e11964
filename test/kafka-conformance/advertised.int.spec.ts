import * as dns from 'node:dns/promises';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka } from '@deltaflow/embedded-kafka';
import { brokerProcessFails, startBrokerProcess, type BrokerProcess } from './broker-process';
import { client, consumeUntil, uniqueName } from './kafka-helpers';
import { hasKcat, kcat } from './kcat';

/** A TCP forwarder standing in for a port forward or NAT in front of the broker. */
async function forwarder(host = '127.0.0.1', port = 0): Promise<{ port: number; connections: number; target: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = {
    port: 0,
    connections: 0,
    target: 0,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((inbound) => {
    state.connections++;
    const outbound = net.connect(state.target, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((r) => server.listen(port, host, () => r()));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

describe('embedded broker: advertised host and port', () => {
  const dirs: string[] = [];
  const procs: BrokerProcess[] = [];
  const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-adv-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('on a wildcard listen address advertises os.hostname(), says so, and kafkajs and kcat work through it', async () => {
    const b = await startBrokerProcess(tempDir(), ['--host', '0.0.0.0']);
    procs.push(b);
    expect(b.stdout()).toContain(`listening on 0.0.0.0:${b.port} (advertised as ${os.hostname()}:${b.port})`);
    expect(b.stderr()).toContain(`advertising os.hostname() '${os.hostname()}'`);
    const k = client([`127.0.0.1:${b.port}`]);
    const admin = k.admin();
    await admin.connect();
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toEqual([{ nodeId: 0, host: os.hostname(), port: b.port }]);
    await admin.disconnect();
    // Clients then connect to the host name, so the rest needs it to resolve (it does on a sane host).
    const resolves = await dns.lookup(os.hostname()).then(() => true, () => false);
    if (!resolves) {
      console.warn(`os.hostname() '${os.hostname()}' does not resolve here: data path through it not tested`);
      expect(await b.stop()).toBe(0);
      return;
    }
    const topic = uniqueName('adv');
    const producer = k.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'via-hostname' }] });
    await producer.disconnect();
    const got = await consumeUntil(k, { groupId: uniqueName('g'), topic }, (g) => g.length >= 1);
    expect(got[0].value.toString()).toBe('via-hostname');
    if (hasKcat) {
      const md = await kcat(['-b', `127.0.0.1:${b.port}`, '-L', '-t', topic]);
      expect(md).toContain(`broker 0 at ${os.hostname()}:${b.port}`);
      const out = await kcat(['-b', `127.0.0.1:${b.port}`, '-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%s\n']);
      expect(out.trim()).toBe('via-hostname');
    }
    expect(await b.stop()).toBe(0);
  }, 60_000);

  it('advertises --advertised-host: clients reconnect to that address for data and the group coordinator', async () => {
    const b = await startBrokerProcess(tempDir(), ['--advertised-host', '127.0.0.2']);
    procs.push(b);
    expect(b.stdout()).toContain(`listening on 127.0.0.1:${b.port} (advertised as 127.0.0.2:${b.port})`);
    expect(b.stderr()).not.toContain('os.hostname()');
    // The broker listens on 127.0.0.1 only; 127.0.0.2:PORT is a forward that counts who uses it.
    const fwd = await forwarder('127.0.0.2', b.port);
    fwd.target = b.port;
    try {
      const k = client([`127.0.0.1:${b.port}`]);
      const topic = uniqueName('adv2');
      const producer = k.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'x' }] });
      await producer.disconnect();
      const afterProduce = fwd.connections;
      expect(afterProduce).toBeGreaterThan(0);
      const got = await consumeUntil(k, { groupId: uniqueName('g'), topic }, (g) => g.length >= 1);
      expect(got[0].value.toString()).toBe('x');
      expect(fwd.connections).toBeGreaterThan(afterProduce);
      if (hasKcat) expect(await kcat(['-b', `127.0.0.1:${b.port}`, '-L'])).toContain(`broker 0 at 127.0.0.2:${b.port}`);
    } finally {
      await fwd.close();
    }
    expect(await b.stop()).toBe(0);
  }, 60_000);

  it('advertises advertisedPort (a forward in front of the broker): kafkajs and kcat go through it', async () => {
    const fwd = await forwarder();
    const kafka = await startEmbeddedKafka({ dataDir: tempDir(), advertisedHost: '127.0.0.1', advertisedPort: fwd.port, logLevel: 'error' });
    fwd.target = kafka.port;
    try {
      expect(kafka.brokers).toEqual([`127.0.0.1:${fwd.port}`]);
      expect(kafka.listening).toBe(`127.0.0.1:${kafka.port}`);
      const k = client([kafka.listening]); // bootstrap at the real port, then follow Metadata
      const topic = uniqueName('fwd');
      const producer = k.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'forwarded' }] });
      await producer.disconnect();
      expect(fwd.connections).toBeGreaterThan(0);
      const before = fwd.connections;
      const got = await consumeUntil(k, { groupId: uniqueName('g'), topic }, (g) => g.length >= 1);
      expect(got[0].value.toString()).toBe('forwarded');
      expect(fwd.connections).toBeGreaterThan(before); // consumer and coordinator connections went through it
      if (hasKcat) {
        expect(await kcat(['-b', kafka.listening, '-L'])).toContain(`broker 0 at 127.0.0.1:${fwd.port}`);
        const out = await kcat(['-b', kafka.listening, '-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%s\n']);
        expect(out.trim()).toBe('forwarded');
      }
    } finally {
      await kafka.stop();
      await fwd.close();
    }
  }, 60_000);

  it('refuses a bad --advertised-port and an empty advertisedHost', async () => {
    const r = await brokerProcessFails(tempDir(), ['--advertised-port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--advertised-port needs an integer in 1\.\.65535, got '0'/);
    await expect(startEmbeddedKafka({ dataDir: tempDir(), advertisedHost: '' })).rejects.toThrow(/advertisedHost must be a host name/);
  });
});
