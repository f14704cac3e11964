/**
 * The scripts the image runs, run here: the health check against real HTTP listeners, the
 * entry point's choice of program, and the TARGETARCH -> npm cpu mapping together with what
 * `npm ci` then installs from this lockfile (a dry run: nothing is downloaded).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { serveHttp } from '@deltaflow/service-kit';
import { ROOT } from './support/context';

const { healthPort, httpToken, check } = require('../../infra/docker/healthcheck.js') as {
  httpToken(env: NodeJS.ProcessEnv): string | undefined;
  healthPort(env: NodeJS.ProcessEnv): number;
  check(o: { port: number; path?: string; timeoutMs?: number; token?: string }): Promise<{ ok: boolean; detail: string }>;
};

async function server(handler: http.RequestListener): Promise<{ port: number; close(): Promise<void> }> {
  const s = http.createServer(handler);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    port: (s.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); }),
  };
}

function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, cwd: ROOT });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (status) => resolve({ status, out }));
  });
}

describe('infra/docker/healthcheck.js', () => {
  it('reads the port as the services do: <SERVICE>_HTTP_PORT, else HTTP_PORT, else 8080', () => {
    expect(healthPort({})).toBe(8080);
    expect(healthPort({ HTTP_PORT: '9000' })).toBe(9000);
    expect(healthPort({ SERVICE: 'catalog', CATALOG_HTTP_PORT: '18080', HTTP_PORT: '9000' })).toBe(18080);
    expect(healthPort({ SERVICE: 'dsim-builder', DSIM_BUILDER_HTTP_PORT: '7000' })).toBe(7000);
    expect(healthPort({ SERVICE: 'catalog', HTTP_PORT: '9000', HEALTHCHECK_PORT: '1234' })).toBe(1234);
    expect(() => healthPort({ HTTP_PORT: '0' })).toThrow(/no usable port/);
    expect(() => healthPort({ HTTP_PORT: 'http' })).toThrow(/no usable port/);
  });

  it('is healthy on 2xx only, and says why not', async () => {
    let status = 200;
    const s = await server((req, res) => {
      res.writeHead(req.url === '/health' ? status : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: status === 200 ? 'ok' : 'kafka disconnected' }));
    });
    try {
      expect(await check({ port: s.port })).toEqual({ ok: true, detail: expect.stringMatching(/GET \/health on port \d+: 200 \{"status":"ok"\}/) });
      status = 503;
      expect(await check({ port: s.port })).toEqual({ ok: false, detail: expect.stringMatching(/: 503 .*kafka disconnected/) });
      expect((await check({ port: s.port, path: '/nope' })).ok).toBe(false);
    } finally {
      await s.close();
    }
  });

  it("sends the services' bearer token (HTTP_TOKEN, else HTTP_TOKEN_FILE): /health/ready of a service behind a token answers it, /health/live needs none", async () => {
    const token = 'a-token-of-32-characters-or-so-x';
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hc-token-')), 'token');
    fs.writeFileSync(file, `${token}\n`);
    expect(httpToken({})).toBeUndefined();
    expect(httpToken({ HTTP_TOKEN_FILE: file })).toBe(token);
    expect(httpToken({ HTTP_TOKEN: 'x'.repeat(20), HTTP_TOKEN_FILE: file })).toBe('x'.repeat(20));
    const svc = await serveHttp({ service: 'healthcheck-test', httpPort: 0, httpToken: token });
    try {
      const port = Number(new URL(svc.httpUrl).port);
      expect(await check({ port, path: '/health/ready', token })).toMatchObject({ ok: true });
      expect(await check({ port, path: '/health/ready' })).toEqual({ ok: false, detail: expect.stringMatching(/: 401/) });
      expect(await check({ port, path: '/health/live' })).toMatchObject({ ok: true });
    } finally {
      await svc.stop();
    }
  });

  it('is unhealthy when nothing listens or the answer does not come in time', async () => {
    const gone = await server(() => undefined);
    const port = gone.port;
    await gone.close();
    expect(await check({ port })).toEqual({ ok: false, detail: expect.stringMatching(/ECONNREFUSED/) });
    const hang = await server(() => undefined);
    try {
      const started = Date.now();
      expect(await check({ port: hang.port, timeoutMs: 300 })).toEqual({ ok: false, detail: expect.stringMatching(/no answer within 300 ms/) });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await hang.close();
    }
  });

  it('exits 0 or 1 as a program, as HEALTHCHECK reads it', async () => {
    const s = await server((req, res) => {
      res.writeHead(req.url === '/health' ? 200 : 503);
      res.end();
    });
    try {
      const env = { PATH: process.env.PATH, SERVICE: 'catalog', CATALOG_HTTP_PORT: String(s.port) };
      const ok = await runAsync(process.execPath, ['infra/docker/healthcheck.js'], env);
      expect(ok).toEqual({ status: 0, out: expect.stringMatching(/^healthy: GET \/health/) });
      const bad = await runAsync(process.execPath, ['infra/docker/healthcheck.js'], { ...env, HEALTHCHECK_PATH: '/other' });
      expect(bad).toEqual({ status: 1, out: expect.stringMatching(/^unhealthy: GET \/other on port \d+: 503/) });
    } finally {
      await s.close();
    }
  });
});

describe('infra/docker/entrypoint.sh', () => {
  // a `node` that prints what it was asked to run, first on PATH
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-fake-node-'));
  fs.writeFileSync(path.join(bin, 'node'), '#!/bin/sh\necho "node $*"\n', { mode: 0o755 });
  afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));
  const entry = (env: Record<string, string>, args: string[] = []) =>
    spawnSync('sh', [path.join(ROOT, 'infra/docker/entrypoint.sh'), ...args], { env: { PATH: `${bin}:${process.env.PATH}`, ...env }, encoding: 'utf8' });

  it('runs apps/<SERVICE>/src/main.ts through run-ts.js, with the arguments', () => {
    expect(entry({ SERVICE: 'catalog' }).stdout.trim()).toBe('node infra/launcher/bin/run-ts.js apps/catalog/src/main.ts');
    expect(entry({ SERVICE: 'cli' }, ['saves', 'list', '--dbid', '1']).stdout.trim()).toBe('node infra/launcher/bin/run-ts.js apps/cli/src/main.ts saves list --dbid 1');
    expect(entry({ SERVICE: 'kafka-topics' }, ['--dry-run']).stdout.trim()).toBe('node infra/launcher/bin/run-ts.js infra/docker/kafka-topics.ts --dry-run');
  });

  it('refuses a missing, unknown or malformed SERVICE with exit 64 and the list of services', () => {
    const none = entry({});
    expect(none.status).toBe(64);
    expect(none.stderr).toMatch(/SERVICE is not set; one of: .*catalog.*kafka-topics/);
    const unknown = entry({ SERVICE: 'catalgo' });
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toMatch(/no service "catalgo" in this image .*services: .*catalog/);
    for (const bad of ['../etc', 'Catalog', '-x', 'a b']) expect(entry({ SERVICE: bad }).status).toBe(64);
  });
});

describe('infra/docker/npm-cpu.sh and the native packages npm ci takes', () => {
  const cpu = (arch: string) => spawnSync('sh', [path.join(ROOT, 'infra/docker/npm-cpu.sh'), arch], { encoding: 'utf8' });

  it("maps Docker's TARGETARCH to npm's cpu, and refuses what it does not know", () => {
    expect(cpu('amd64').stdout.trim()).toBe('x64');
    expect(cpu('arm64').stdout.trim()).toBe('arm64');
    expect(cpu('ppc64le').stdout.trim()).toBe('ppc64');
    const bad = cpu('mips64le');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/no npm cpu name for architecture 'mips64le'/);
    // no TARGETARCH (a builder without buildx): this machine's own
    expect(cpu('').stdout.trim()).toBe(process.arch);
  });

  // `npm ci --omit=dev` as the deps stage runs it, in a dry run against this lockfile and .npmrc
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-npm-ci-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const f of ['package.json', 'package-lock.json', '.npmrc']) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  const dryRun = (arch: string) => {
    const npmCpu = cpu(arch).stdout.trim();
    const r = spawnSync('npm', ['ci', '--omit=dev', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, npm_config_cpu: npmCpu, npm_config_cache: path.join(dir, '.npm-cache'), npm_config_loglevel: 'warn' },
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`npm ci --dry-run for ${arch}: ${r.stderr}`);
    return new Set(r.stdout.split('\n').filter((l) => l.startsWith('add ')).map((l) => l.split(' ')[1]));
  };

  it.each([
    ['arm64', 'arm64', 'x64'],
    ['amd64', 'x64', 'arm64'],
  ])('for TARGETARCH=%s installs the linux-%s SWC binding and not linux-%s, production packages only', (arch, want, not) => {
    const added = dryRun(arch);
    expect(added).toContain(`@swc/core-linux-${want}-gnu`);
    expect(added).not.toContain(`@swc/core-linux-${not}-gnu`);
    expect(added).not.toContain(`@swc/core-linux-${want}-musl`);
    expect(added).toContain('kafkajs');
    expect(added).not.toContain('jest');
    expect(added).not.toContain('testcontainers');
  });
});
