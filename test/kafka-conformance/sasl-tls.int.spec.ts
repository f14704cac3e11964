import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { addUser, startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { runBrokerCli, startBrokerProcess, type BrokerProcess } from './broker-process';
import { client, consumeUntil, uniqueName } from './kafka-helpers';
import { hasKcat, kcat, kcatResult } from './kcat';
import { frame } from './raw-socket';
import { hasOpenssl, makeTestPki, type TestPki } from './test-pki';

/**
 * TLS and SASL on the embedded broker, with real clients: kafkajs (SaslHandshake v1 +
 * SaslAuthenticate), kcat/librdkafka (same), kafka-python 2.0 (SaslHandshake v0 + bare tokens)
 * when Debian's python3-kafka is installed, and raw sockets for the refusals.
 */
const describeTls = hasOpenssl ? describe : describe.skip;
if (!hasOpenssl) console.warn('openssl CLI missing: TLS suites skipped');

const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
const PASSWORDS = { alice: 'alice-s3cret, with = and , signs', bob: 'bob-pässword' };

const hasKafkaPython = spawnSync('/usr/bin/python3', ['-c', 'import kafka'], { stdio: 'ignore' }).status === 0;

function sasl(mechanism: (typeof MECHANISMS)[number], username: string, password: string): SASLOptions {
  return { mechanism, username, password } as SASLOptions;
}

/** Opens a (TLS) connection, sends `bytes`, and reports what came back before the broker closed it. */
function exchange(port: number, bytes: Buffer, opts: { tls?: { ca: string }; waitMs?: number } = {}): Promise<{ closed: boolean; data: Buffer }> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    const s: net.Socket = opts.tls
      ? tls.connect({ port, host: '127.0.0.1', ca: opts.tls.ca, servername: 'localhost' }, () => s.write(bytes))
      : net.connect(port, '127.0.0.1', () => s.write(bytes));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ closed: false, data });
    }, opts.waitMs ?? 3000);
    s.on('data', (d) => (data = Buffer.concat([data, d])));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, data });
    });
  });
}

describeTls('TLS + SASL (SASL_SSL) broker process', () => {
  let work: string;
  let pki: TestPki;
  let credentials: string;
  let b: BrokerProcess;
  let brokers: string[];
  const tlsClient = (extra: Partial<KafkaConfig>) => client(brokers, { ssl: { ca: [pki.ca] }, ...extra });

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-sasl-'));
    pki = makeTestPki(path.join(work, 'pki'));
    credentials = path.join(work, 'users.json');
    // Users are written with the CLI (password on stdin) and with the library function.
    const added = runBrokerCli(['add-user', '--credentials', credentials, '--user', 'alice'], `${PASSWORDS.alice}\n`);
    expect(added).toMatchObject({ code: 0 });
    addUser(credentials, 'bob', PASSWORDS.bob);
    b = await startBrokerProcess(path.join(work, 'data'), ['--tls-cert', pki.certFile, '--tls-key', pki.keyFile, '--sasl-credentials', credentials]);
    brokers = [b.listening];
    expect(b.stdout()).toMatch(/SASL_SSL/);
  }, 60_000);
  afterAll(async () => {
    if (b) await b.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('keeps salted SCRAM keys only (no password) in a 0600 credentials file', () => {
    const text = fs.readFileSync(credentials, 'utf8');
    for (const pw of Object.values(PASSWORDS)) {
      expect(text).not.toContain(pw);
      expect(text).not.toContain(Buffer.from(pw).toString('base64'));
    }
    expect(Object.keys(JSON.parse(text).users).sort()).toEqual(['alice', 'bob']);
    expect(JSON.parse(text).users.alice['SCRAM-SHA-512']).toEqual({ salt: expect.any(String), iterations: 8192, storedKey: expect.any(String), serverKey: expect.any(String) });
    expect(fs.statSync(credentials).mode & 0o777).toBe(0o600);
  });

  it.each(MECHANISMS)('kafkajs over TLS with SASL %s produces and consumes', async (mechanism) => {
    const k = tlsClient({ sasl: sasl(mechanism, 'alice', PASSWORDS.alice) });
    const topic = uniqueName(`sasl-${mechanism}`);
    const producer = k.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: `via ${mechanism}` }] });
    await producer.disconnect();
    const got = await consumeUntil(k, { groupId: uniqueName('g'), topic }, (g) => g.length >= 1);
    expect(got[0].value.toString()).toBe(`via ${mechanism}`);
  });

  it.each(MECHANISMS)('kafkajs with a wrong password (%s) is refused with SASL_AUTHENTICATION_FAILED', async (mechanism) => {
    const admin = tlsClient({ sasl: sasl(mechanism, 'alice', 'not-the-password'), retry: { retries: 0 } }).admin();
    const err = await admin.connect().then(
      () => null,
      (e) => e,
    );
    expect(err).not.toBeNull();
    expect(`${err.name} ${err.message} ${err.cause?.message ?? ''}`).toMatch(/SASL|authentication failed/i);
    expect(`${err.message} ${err.cause?.type ?? ''}`).toMatch(/SASL_AUTHENTICATION_FAILED|Authentication failed/);
    const unknown = tlsClient({ sasl: sasl(mechanism, 'mallory', 'x'), retry: { retries: 0 } }).admin();
    await expect(unknown.connect()).rejects.toThrow(/Authentication failed/i);
  });

  it('refuses anonymous clients: kafkajs without SASL, a Metadata request before authentication, plaintext to the TLS port', async () => {
    const anon = tlsClient({ retry: { retries: 0 } }).admin();
    await expect(anon.connect().then(() => anon.listTopics())).rejects.toThrow();
    // ApiVersions is answered before authentication; Metadata closes the connection unanswered.
    const apiVersions = await exchange(b.port, frame(18, 1, 1, Buffer.alloc(0)), { tls: { ca: pki.ca }, waitMs: 1000 });
    expect(apiVersions.data.readInt32BE(4)).toBe(1);
    expect(apiVersions.closed).toBe(false);
    const metadata = await exchange(b.port, frame(3, 1, 2, Buffer.from([0xff, 0xff, 0xff, 0xff])), { tls: { ca: pki.ca } });
    expect(metadata).toEqual({ closed: true, data: Buffer.alloc(0) });
    const plaintext = await exchange(b.port, frame(18, 1, 3, Buffer.alloc(0)));
    expect(plaintext.closed).toBe(true);
    expect(plaintext.data.length === 0 || plaintext.data.readInt32BE(4) !== 3).toBe(true); // never a Kafka answer
    expect(b.stderr()).toMatch(/Metadata before SASL authentication/);
  });

  it('picks up a user added while it runs (no restart), and a removed one is refused', async () => {
    const k = () => tlsClient({ sasl: sasl('scram-sha-256', 'carol', 'carol-pw'), retry: { retries: 0 } }).admin();
    await expect(k().connect()).rejects.toThrow(/Authentication failed/i);
    expect(runBrokerCli(['add-user', '--credentials', credentials, '--user', 'carol'], 'carol-pw\n').code).toBe(0);
    const admin = k();
    await admin.connect();
    expect(Array.isArray(await admin.listTopics())).toBe(true);
    await admin.disconnect();
    expect(runBrokerCli(['remove-user', '--credentials', credentials, '--user', 'carol']).code).toBe(0);
    await expect(k().connect()).rejects.toThrow(/Authentication failed/i);
  });

  (hasKcat ? it : it.skip)('kcat with SASL_SSL and SCRAM-SHA-512 lists, produces and consumes; a wrong password fails', async () => {
    const topic = uniqueName('kcat-sasl');
    const common = (pw: string) => [
      '-b', brokers[0], '-X', 'security.protocol=SASL_SSL', '-X', 'sasl.mechanisms=SCRAM-SHA-512',
      '-X', 'sasl.username=bob', '-X', `sasl.password=${pw}`, '-X', `ssl.ca.location=${pki.caFile}`,
    ];
    await kcat([...common(PASSWORDS.bob), '-P', '-t', topic], 'one\ntwo\n');
    expect(await kcat([...common(PASSWORDS.bob), '-L', '-t', topic])).toContain(`topic "${topic}" with 1 partitions`);
    const out = await kcat([...common(PASSWORDS.bob), '-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%s\n']);
    expect(out.trim().split('\n')).toEqual(['one', 'two']);
    const wrong = await kcatResult([...common('wrong'), '-L', '-m', '5'], undefined, 20000);
    expect(wrong.code).not.toBe(0);
    expect(`${wrong.stderr}`).toMatch(/Authentication failed|SASL/i);
  });

  (hasKafkaPython ? it : it.skip)('kafka-python (SaslHandshake v0, bare tokens) with PLAIN and SCRAM-SHA-256 over TLS', () => {
    const script = `
import json, sys
from kafka import KafkaProducer, KafkaConsumer
boot, mech, user, pw, ca, topic = sys.argv[1:7]
common = dict(bootstrap_servers=boot, security_protocol='SASL_SSL', sasl_mechanism=mech,
              sasl_plain_username=user, sasl_plain_password=pw, ssl_cafile=ca)
p = KafkaProducer(**common)
p.send(topic, ('from python ' + mech).encode()).get(timeout=20)
p.close()
c = KafkaConsumer(topic, auto_offset_reset='earliest', consumer_timeout_ms=5000, **common)
print(json.dumps([m.value.decode() for m in c]))
c.close()
`;
    for (const mech of ['PLAIN', 'SCRAM-SHA-256']) {
      const topic = uniqueName('py');
      const r = spawnSync('/usr/bin/python3', ['-c', script, brokers[0], mech, 'alice', PASSWORDS.alice, pki.caFile, topic], { encoding: 'utf8', timeout: 60000 });
      expect({ code: r.status, err: r.status === 0 ? '' : r.stderr }).toEqual({ code: 0, err: '' });
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual([`from python ${mech}`]);
    }
  }, 90_000);
});

describe('SASL without TLS (SASL_PLAINTEXT), raw protocol', () => {
  let work: string;
  let kafka: EmbeddedKafka;
  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-saslp-'));
    addUser(path.join(work, 'users.json'), 'alice', PASSWORDS.alice);
    kafka = await startEmbeddedKafka({ dataDir: path.join(work, 'data'), sasl: { credentialsFile: path.join(work, 'users.json'), mechanisms: ['PLAIN', 'SCRAM-SHA-512'] }, logLevel: 'silent' });
  });
  afterAll(async () => {
    await kafka.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const handshake = (version: number, mechanism: string, correlationId = 1) => {
    const m = Buffer.from(mechanism);
    const body = Buffer.alloc(2 + m.length);
    body.writeInt16BE(m.length, 0);
    m.copy(body, 2);
    return frame(17, version, correlationId, body);
  };
  const token = (t: string) => {
    const b = Buffer.from(t);
    const size = Buffer.alloc(4);
    size.writeInt32BE(b.length, 0);
    return Buffer.concat([size, b]);
  };

  it('v0 handshake then a bare PLAIN token: an empty token back, then requests are served', async () => {
    expect(kafka.securityProtocol).toBe('SASL_PLAINTEXT');
    const ok = await exchange(kafka.port, Buffer.concat([handshake(0, 'PLAIN'), token(`\u0000alice\u0000${PASSWORDS.alice}`), frame(18, 1, 9, Buffer.alloc(0))]), { waitMs: 1500 });
    expect(ok.closed).toBe(false);
    // handshake response: size, correlation 1, error 0, [mechanisms]
    const first = ok.data.readInt32BE(0);
    expect(ok.data.readInt32BE(4)).toBe(1);
    expect(ok.data.readInt16BE(8)).toBe(0);
    expect(ok.data.toString('utf8', 8, 4 + first)).toContain('SCRAM-SHA-512');
    expect(ok.data.readInt32BE(4 + first)).toBe(0); // the bare (empty) PLAIN answer
    expect(ok.data.readInt32BE(4 + first + 4 + 4)).toBe(9); // then ApiVersions, answered
    const wrong = await exchange(kafka.port, Buffer.concat([handshake(0, 'PLAIN'), token('\u0000alice\u0000nope')]));
    expect(wrong.closed).toBe(true);
    expect(wrong.data.length).toBe(4 + wrong.data.readInt32BE(0)); // the handshake answer only
  });

  it('add-user refuses an empty password and a missing --user; nothing is written', () => {
    const file = path.join(work, 'other.json');
    const empty = runBrokerCli(['add-user', '--credentials', file, '--user', 'x'], '\n');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/empty password/);
    expect(runBrokerCli(['add-user', '--credentials', file], 'pw\n').stderr).toMatch(/--credentials FILE and --user NAME are required/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('answers an unknown mechanism UNSUPPORTED_SASL_MECHANISM (33) with the enabled list, then closes', async () => {
    const r = await exchange(kafka.port, handshake(1, 'SCRAM-SHA-256'));
    expect(r.closed).toBe(true);
    expect(r.data.readInt16BE(8)).toBe(33);
    expect(r.data.toString('utf8')).toContain('PLAIN');
  });

  it('closes a connection whose SaslAuthenticate comes before a handshake, or whose first frame is too large', async () => {
    const auth = Buffer.alloc(4);
    expect(await exchange(kafka.port, frame(36, 0, 1, auth))).toEqual({ closed: true, data: Buffer.alloc(0) });
    const big = Buffer.alloc(4);
    big.writeInt32BE(600 * 1024, 0); // over 512 KiB before authentication
    expect((await exchange(kafka.port, big)).closed).toBe(true);
  });

  it('survives fuzzed frames and tokens before authentication, and still authenticates', async () => {
    const fc = await import('fast-check');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(3, 17, 18, 36, 0, 999),
        fc.integer({ min: 0, max: 3 }),
        fc.uint8Array({ maxLength: 48 }),
        fc.boolean(),
        async (key, version, body, rawToken) => {
          const bytes = rawToken ? Buffer.concat([handshake(0, 'SCRAM-SHA-512'), token(Buffer.from(body).toString('latin1'))]) : frame(key, version, 1, Buffer.from(body));
          const r = await exchange(kafka.port, bytes, { waitMs: 150 });
          // A request is answered (its correlation id) or the connection is closed; nothing else.
          if (!rawToken && r.data.length >= 8) expect(r.data.readInt32BE(4)).toBe(1);
        },
      ),
      { numRuns: 100, seed: 20261123 },
    );
    const admin = client(kafka.brokers, { sasl: sasl('scram-sha-512', 'alice', PASSWORDS.alice) }).admin();
    await admin.connect();
    await admin.listTopics();
    await admin.disconnect();
  }, 120_000);

  it('kafkajs scram-sha-512 works without TLS; PLAIN-less mechanisms are refused by kafkajs', async () => {
    const k = client(kafka.brokers, { sasl: sasl('scram-sha-512', 'alice', PASSWORDS.alice) });
    const admin = k.admin();
    await admin.connect();
    const topic = uniqueName('sp');
    await admin.createTopics({ topics: [{ topic }] });
    expect(await admin.listTopics()).toContain(topic);
    await admin.disconnect();
    const disabled = client(kafka.brokers, { sasl: sasl('scram-sha-256', 'alice', PASSWORDS.alice), retry: { retries: 0 } }).admin();
    await expect(disabled.connect()).rejects.toThrow(/not supported by the server|UNSUPPORTED_SASL_MECHANISM|SASL/i);
  });
});

describeTls('TLS with client certificates (mutual TLS), no SASL', () => {
  it('requires a client certificate signed by the CA when --tls-client-auth required', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-mtls-'));
    const pki = makeTestPki(path.join(work, 'pki'));
    const kafka = await startEmbeddedKafka({
      dataDir: path.join(work, 'data'),
      tls: { certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile, clientAuth: 'required' },
      logLevel: 'silent',
    });
    try {
      expect(kafka.securityProtocol).toBe('SSL');
      const withCert = client(kafka.brokers, { ssl: { ca: [pki.ca], cert: fs.readFileSync(pki.clientCertFile, 'utf8'), key: fs.readFileSync(pki.clientKeyFile, 'utf8') } }).admin();
      await withCert.connect();
      expect(Array.isArray(await withCert.listTopics())).toBe(true);
      await withCert.disconnect();
      const without = client(kafka.brokers, { ssl: { ca: [pki.ca] }, retry: { retries: 0 } }).admin();
      await expect(without.connect().then(() => without.listTopics())).rejects.toThrow();
    } finally {
      await kafka.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('refuses to start with a key that does not match the certificate, or a missing file', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-badtls-'));
    const pki = makeTestPki(path.join(work, 'pki'));
    await expect(startEmbeddedKafka({ dataDir: path.join(work, 'd1'), tls: { certFile: pki.certFile, keyFile: pki.clientKeyFile } })).rejects.toThrow(/tls:/);
    await expect(startEmbeddedKafka({ dataDir: path.join(work, 'd2'), tls: { certFile: path.join(work, 'nope.pem'), keyFile: pki.keyFile } })).rejects.toThrow(/tls certFile/);
    await expect(startEmbeddedKafka({ dataDir: path.join(work, 'd3'), sasl: { credentialsFile: path.join(work, 'absent.json') } })).rejects.toThrow(/does not exist .*add-user/);
    fs.rmSync(work, { recursive: true, force: true });
  });
});
