import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { BadRequestException, Controller, Get, Injectable, Module, Query, type OnModuleInit } from '@nestjs/common';
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { encodeMessage, type AnyMessage } from '@deltaflow/contracts';
import { runService } from '../bootstrap';
import { bearerAuth, cookieOf, httpTokenFromEnv, sessionCookieValue } from './http';
import { HealthService } from './health';
import { metricsText, registerGauges, registerStreamDevices } from './metrics';
import { observeProduced } from './published-events';
import { parsePrometheus, sampleValue } from './testing/prometheus-text';

const dsid = { full: 1, deltaFrom: 0, deltaTo: 0, timestamp: 1, lineage: 'L1' };
const produced = (...ms: AnyMessage[]) => {
  const rs = ms.map((m) => encodeMessage(m));
  observeProduced(rs[0].topic, rs.map((r) => ({ value: r.value, headers: r.headers })));
};
const scrape = async () => parsePrometheus(await metricsText());

describe('metrics derived from what a process publishes', () => {
  it('counts records per topic and type, and times saves, merges and restores by correlation id', async () => {
    const before = await scrape();
    const v = (name: string, labels: Record<string, string>, s = before) => sampleValue(s, name, labels) ?? 0;
    produced(
      { type: 'SaveStarted', correlationId: 's1', dbid: 1, dsid, kind: 'full', online: true, startLsn: 5, occurredAt: 1_000 },
      { type: 'SaveStarted', correlationId: 's2', dbid: 1, dsid, kind: 'full', online: true, startLsn: 6, occurredAt: 2_000 },
    );
    let now = await scrape();
    expect(v('deltaflow_operations_running', { operation: 'save' }, now)).toBe(v('deltaflow_operations_running', { operation: 'save' }) + 2);
    produced(
      { type: 'SaveCompleted', correlationId: 's1', dbid: 1, dsid, kind: 'full', online: true, startLsn: 5, endLsn: 9, location: { kind: 'directory', name: 'x' }, blocks: 10, bytes: 40_960, digest: 'abcdef01', occurredAt: 4_500 },
      { type: 'SaveFailed', correlationId: 's2', dbid: 1, code: 'IO', reason: 'disk', occurredAt: 2_500 },
      { type: 'MergeStarted', correlationId: 'm1', dbid: 1, dsid, kind: 'full', inputs: ['a', 'b'], occurredAt: 10_000 },
      { type: 'CommandFailed', correlationId: 'm1', dbid: 1, commandType: 'MergeRequested', code: 'IO', reason: 'corrupt input', occurredAt: 70_000 },
      { type: 'RestoreStarted', correlationId: 'r1', dbid: 1, target: 't', inputs: ['a'], shadow: false, occurredAt: 0 },
      { type: 'RestoreInterrupted', correlationId: 'r1', dbid: 1, target: 't', code: 'STOPPED', reason: 'stopping', occurredAt: 1_000 },
      { type: 'DsimUnloaded', correlationId: 'd1', dbid: 1, dsid, location: { kind: 'directory', name: 'u' }, blocks: 7, digest: 'abcdef01', occurredAt: 1 },
    );
    now = await scrape();
    const d = (name: string, labels: Record<string, string>) => v(name, labels, now) - v(name, labels);
    expect(d('deltaflow_events_published_total', { topic: 'dsf.events', type: 'SaveStarted' })).toBe(2);
    expect(d('deltaflow_events_published_total', { topic: 'dsf.events', type: 'SaveCompleted' })).toBe(1);
    expect(d('deltaflow_operations_total', { operation: 'save', outcome: 'completed' })).toBe(1);
    expect(d('deltaflow_operations_total', { operation: 'save', outcome: 'failed' })).toBe(1);
    expect(d('deltaflow_operations_total', { operation: 'merge', outcome: 'failed' })).toBe(1);
    expect(d('deltaflow_operations_total', { operation: 'restore', outcome: 'interrupted' })).toBe(1);
    expect(d('deltaflow_operation_duration_seconds_sum', { operation: 'save', outcome: 'completed' })).toBeCloseTo(3.5);
    expect(d('deltaflow_operation_duration_seconds_sum', { operation: 'merge', outcome: 'failed' })).toBeCloseTo(60);
    // 60 s is in the 60 s bucket, not in the 30 s one
    expect(d('deltaflow_operation_duration_seconds_bucket', { operation: 'merge', outcome: 'failed', le: '60' })).toBe(1);
    expect(d('deltaflow_operation_duration_seconds_bucket', { operation: 'merge', outcome: 'failed', le: '30' })).toBe(0);
    expect(d('deltaflow_operations_running', { operation: 'save' })).toBe(0);
    expect(d('deltaflow_bytes_written_total', { kind: 'save' })).toBe(40_960);
    expect(d('deltaflow_blocks_written_total', { kind: 'save' })).toBe(10);
    expect(d('deltaflow_blocks_written_total', { kind: 'dsim-unload' })).toBe(7);
  });

  it('counts a record without a type header as "unknown" and never throws on garbage', async () => {
    const before = sampleValue(await scrape(), 'deltaflow_events_published_total', { topic: 't', type: 'unknown' }) ?? 0;
    observeProduced('t', [{ value: Buffer.from('x') }, { value: Buffer.from('junk'), headers: { 'df-type': 'SaveStarted' } }]);
    const after = await scrape();
    expect(sampleValue(after, 'deltaflow_events_published_total', { topic: 't', type: 'unknown' })).toBe(before + 1);
    expect(sampleValue(after, 'deltaflow_events_published_total', { topic: 't', type: 'SaveStarted' })).toBeGreaterThanOrEqual(1);
  });

  it('prefixes the default Node.js metrics', async () => {
    const text = await metricsText();
    expect(text).toMatch(/^# TYPE deltaflow_process_cpu_seconds_total counter$/m);
    expect(text).toMatch(/^deltaflow_nodejs_heap_size_used_bytes \d+/m);
    expect(text).not.toMatch(/^process_cpu/m);
  });
});

describe('registerGauges', () => {
  it('reads gauges at scrape time, merges registrations of one name and removes them', async () => {
    let blocks = 3;
    const off1 = registerGauges({ deltaflow_test_blocks: { help: 'test', labelNames: ['dbid'], read: () => [[{ dbid: 1 }, blocks]] } });
    const off2 = registerGauges({ deltaflow_test_blocks: { help: 'test', labelNames: ['dbid'], read: async () => [[{ dbid: 2 }, 9]] } });
    expect(sampleValue(await scrape(), 'deltaflow_test_blocks', { dbid: '1' })).toBe(3);
    blocks = 4;
    const s = await scrape();
    expect(sampleValue(s, 'deltaflow_test_blocks', { dbid: '1' })).toBe(4);
    expect(sampleValue(s, 'deltaflow_test_blocks', { dbid: '2' })).toBe(9);
    off1();
    expect(sampleValue(await scrape(), 'deltaflow_test_blocks', { dbid: '1' })).toBeUndefined();
    off2();
    expect(() => registerGauges({ deltaflow_test_blocks: { help: 'test', labelNames: ['area'], read: () => [] } })).toThrow(/labels \[dbid\]/);
    expect(() => registerGauges({ blocks: { help: 'x', labelNames: [], read: () => [] } })).toThrow(/starting with deltaflow_/);
  });

  it('registerStreamDevices: utilisation, busy seconds and bytes per stream and device', async () => {
    const off = registerStreamDevices(() => [
      { stream: 'S1', device: 'd1', ratio: 0.25, busyMs: 1500, bytesWritten: 1024 },
      { stream: 'S1', device: 'd2', ratio: null },
    ]);
    const s = await scrape();
    expect(sampleValue(s, 'deltaflow_device_utilisation_ratio', { stream: 'S1', device: 'd1' })).toBe(0.25);
    expect(sampleValue(s, 'deltaflow_device_busy_seconds', { stream: 'S1', device: 'd1' })).toBe(1.5);
    expect(sampleValue(s, 'deltaflow_device_bytes_written', { stream: 'S1', device: 'd1' })).toBe(1024);
    expect(sampleValue(s, 'deltaflow_device_utilisation_ratio', { stream: 'S1', device: 'd2' })).toBeUndefined();
    off();
  });
});

describe('HealthService', () => {
  it('answers ok, names failing checks with their reasons, times out slow ones, and shares a running check', async () => {
    const h = new HealthService();
    let calls = 0;
    h.addCheck({ name: 'kafka', check: () => undefined });
    const remove = h.addCheck({
      name: 'database',
      timeoutMs: 50,
      check: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 200));
      },
    });
    h.addCheck({ name: 'kafka-live', liveness: true, check: () => undefined });
    const [a, b] = await Promise.all([h.ready(), h.ready()]);
    expect(a).toEqual(b);
    expect(calls).toBe(1);
    expect(a.ok).toBe(false);
    expect(a.reason).toBe('database: no answer within 50 ms');
    expect(Object.keys(a.checks)).toEqual(['kafka', 'database']);
    expect((await h.live()).ok).toBe(true);
    remove();
    await new Promise((r) => setTimeout(r, 200));
    h.addCheck({
      name: 'database',
      check: () => {
        throw new Error('connect ECONNREFUSED');
      },
    });
    expect((await h.all()).reason).toBe('database: connect ECONNREFUSED');
    expect(Object.keys((await h.all()).checks)).toEqual(['kafka', 'kafka-live', 'database']);
  });
});

describe('the token', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'http-token-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('comes from HTTP_TOKEN or the first line of HTTP_TOKEN_FILE, and must be long enough', () => {
    expect(httpTokenFromEnv({})).toBeUndefined();
    expect(httpTokenFromEnv({ HTTP_TOKEN: '0123456789abcdef' })).toBe('0123456789abcdef');
    const file = path.join(tmp, 'token');
    fs.writeFileSync(file, 'fedcba9876543210fedcba\n');
    expect(httpTokenFromEnv({ HTTP_TOKEN_FILE: file })).toBe('fedcba9876543210fedcba');
    expect(httpTokenFromEnv({ HTTP_TOKEN: '0123456789abcdef', HTTP_TOKEN_FILE: file })).toBe('0123456789abcdef');
    expect(() => httpTokenFromEnv({ HTTP_TOKEN: 'short' })).toThrow(/HTTP_TOKEN: expected a token of at least 16 characters/);
    expect(() => httpTokenFromEnv({ HTTP_TOKEN_FILE: path.join(tmp, 'none') })).toThrow(/HTTP_TOKEN_FILE: cannot read/);
    fs.writeFileSync(file, '\n');
    expect(httpTokenFromEnv({ HTTP_TOKEN_FILE: file })).toBeUndefined();
  });

  it('bearerAuth: 401 with a reason without or with a wrong token, /health/live open', async () => {
    const token = 'a-token-of-enough-length';
    const mw = bearerAuth(token);
    const server = http.createServer((req, res) => mw(req, res, () => res.end('through')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (p: string, authorization?: string) => {
      const res = await fetch(`${base}${p}`, authorization ? { headers: { authorization } } : {});
      return { status: res.status, text: await res.text(), www: res.headers.get('www-authenticate') };
    };
    try {
      const none = await get('/metrics');
      expect(none.status).toBe(401);
      expect(JSON.parse(none.text).message).toMatch(/requires a token: send Authorization: Bearer <token>/);
      expect(none.www).toBe('Bearer realm="deltaflow"');
      const wrong = await get('/saves?dbid=1', `Bearer ${token}x`);
      expect(wrong.status).toBe(401);
      expect(JSON.parse(wrong.text).message).toMatch(/not this service's HTTP_TOKEN/);
      expect(wrong.www).toMatch(/error="invalid_token"/);
      expect((await get('/metrics', `Basic ${Buffer.from(`u:${token}`).toString('base64')}`)).status).toBe(401);
      expect(await get('/metrics', `Bearer ${token}`)).toMatchObject({ status: 200, text: 'through' });
      expect(await get('/health/live')).toMatchObject({ status: 200, text: 'through' });
      expect(await get('/health/live/?x=1')).toMatchObject({ status: 200, text: 'through' });
      expect((await get('/health')).status).toBe(401);
      expect((await get('/health/ready')).status).toBe(401);
      expect((await get('/health/live/../../metrics')).status).toBe(401);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('bearerAuth with a browser login (the console)', () => {
  it('accepts the session cookie derived from the token, opens the login path, sends a page request without it to the login form', async () => {
    const token = 'a-token-of-enough-length';
    const mw = bearerAuth(token, { cookie: 'df_session', loginPath: '/login' });
    const server = http.createServer((req, res) => mw(req, res, () => res.end('through')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (p: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${p}`, { headers, redirect: 'manual' });
      return { status: res.status, text: await res.text(), location: res.headers.get('location') };
    };
    try {
      expect(sessionCookieValue(token)).not.toContain(token);
      expect(cookieOf('a=1; df_session=xyz; b=2', 'df_session')).toBe('xyz');
      expect(cookieOf('a=1', 'df_session')).toBeUndefined();
      expect(await get('/login')).toMatchObject({ status: 200, text: 'through' });
      expect(await get('/', { accept: 'text/html,*/*' })).toMatchObject({ status: 302, location: '/login' });
      expect((await get('/api/view')).status).toBe(401);
      expect(await get('/api/view', { cookie: `df_session=${sessionCookieValue(token)}` })).toMatchObject({ status: 200, text: 'through' });
      // the token itself is not a session, nor is the session of another token
      expect((await get('/api/view', { cookie: `df_session=${token}` })).status).toBe(401);
      expect((await get('/api/view', { cookie: `df_session=${sessionCookieValue(`${token}x`)}` })).status).toBe(401);
      expect(await get('/api/view', { authorization: `Bearer ${token}` })).toMatchObject({ status: 200 });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('runService with a transport of its own, a provider\'s check, the token and the app\'s routes', () => {
  class FakeTransport extends Server implements CustomTransportStrategy {
    reason: string | undefined;
    gone: string | undefined;
    listen(callback: () => void): void {
      callback();
    }
    close(): void {}
    on(): void {}
    unwrap<T>(): T {
      return undefined as T;
    }
    unready() {
      return this.reason;
    }
    dead() {
      return this.gone;
    }
  }

  const disk = { full: false };

  @Injectable()
  class DiskWatch implements OnModuleInit {
    constructor(private readonly health: HealthService) {}
    onModuleInit() {
      this.health.addCheck({ name: 'disk', check: () => (disk.full ? 'no space left' : undefined) });
    }
  }

  @Controller()
  class HelloController {
    @Get('hello')
    hello(@Query('who') who?: string) {
      if (!who) throw new BadRequestException('who: required');
      return { hello: who };
    }
  }

  @Module({ controllers: [HelloController], providers: [DiskWatch] })
  class HelloModule {}

  it('answers /health from every check, keeps the app\'s HTTP errors, and guards everything but /health/live', async () => {
    const transport = new FakeTransport();
    const token = 'unit-token-0123456789';
    const svc = await runService({ name: 'hello', module: HelloModule, transport: () => transport, http: { httpPort: 0, httpToken: token } });
    const get = async (p: string, auth = true) => {
      const res = await fetch(`${svc.httpUrl}${p}`, auth ? { headers: { authorization: `Bearer ${token}` } } : {});
      return { status: res.status, json: (await res.json()) as Record<string, any> };
    };
    try {
      expect(await get('/health')).toEqual({
        status: 200,
        json: { status: 'ok', service: 'hello', uptimeSeconds: expect.any(Number), checks: { disk: { status: 'ok', ms: expect.any(Number) }, transport: expect.objectContaining({ status: 'ok' }), 'transport-live': expect.objectContaining({ status: 'ok' }) } },
      });
      expect(await get('/hello?who=x')).toEqual({ status: 200, json: { hello: 'x' } });
      expect(await get('/hello')).toMatchObject({ status: 400, json: { statusCode: 400, message: 'who: required' } });
      expect((await get('/hello?who=x', false)).status).toBe(401);
      expect((await get('/nothing-here', false)).status).toBe(401); // no route is told apart without the token
      expect((await get('/nothing-here')).status).toBe(404);

      transport.reason = 'spool: paused';
      disk.full = true;
      expect(await get('/health')).toMatchObject({ status: 503, json: { status: 'unavailable', reason: 'disk: no space left; transport: spool: paused' } });
      expect((await get('/health/live', false)).status).toBe(200);
      transport.gone = 'consumer crashed';
      expect(await get('/health/live', false)).toEqual({ status: 503, json: { status: 'down', failing: ['transport-live'] } });
      expect(svc.health).toBeInstanceOf(HealthService);
    } finally {
      await svc.stop();
    }
  });
});
