/**
 * docker-compose.yml: valid against the Compose Specification (the schema dclint ships, all
 * errors) and dclint's rules, then what issue 14 asked of it, on the file as Compose
 * resolves it (merge keys, ${VAR} interpolation).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, read } from './support/context';
import { composeSchema, interpolate, lintCompose, parseCompose, resolvedCompose, variablesIn } from './support/compose';
import { HTTP_PORT, SERVICES } from './support/services';

const TEXT = read('docker-compose.yml');
const IMAGES = JSON.parse(read('infra/docker/images.json')) as Record<string, string>;
const ENV = { POSTGRES_PASSWORD: 'superSecret1', DELTAFLOW_DB_PASSWORD: 'appSecret2' };
const compose = resolvedCompose(TEXT, ENV);
const DB_SERVICES = ['dsim-builder', 'merge-engine', 'stream-multiplexer', 'catalog'];

describe('docker-compose.yml: Compose Specification and dclint', () => {
  it('validates against the Compose Specification and breaks no dclint rule', () => {
    expect(composeSchema()).toMatchObject({ title: 'Compose Specification', $id: 'compose_spec.json' });
    expect(lintCompose(path.join(ROOT, 'docker-compose.yml'))).toEqual([]);
  });

  it('the same check refuses a file the specification does not allow, and a port open to every interface', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-compose-'));
    try {
      const bad = path.join(dir, 'bad.yml');
      fs.writeFileSync(bad, TEXT.replace('condition: service_healthy', 'condition: healthy'));
      expect(lintCompose(bad)).toEqual([expect.objectContaining({ rule: 'invalid-schema', type: 'error' })]);
      const open = path.join(dir, 'open.yml');
      fs.writeFileSync(open, TEXT.replace('"127.0.0.1:${CATALOG_PORT:-8080}:8080"', '"8080:8080"'));
      expect(lintCompose(open)).toEqual([expect.objectContaining({ rule: 'no-unbound-port-interfaces', type: 'error' })]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.yml: secrets', () => {
  it('has no default for any password: Compose refuses to start without them', () => {
    const secretVars = variablesIn(TEXT).filter((v) => /PASSWORD|SECRET|TOKEN/.test(v.name));
    expect(secretVars.length).toBeGreaterThanOrEqual(3);
    for (const v of secretVars) expect([v.raw, v.op]).toEqual([v.raw, ':?']);
    expect(() => resolvedCompose(TEXT, {})).toThrow(/required variable (POSTGRES_PASSWORD|DELTAFLOW_DB_PASSWORD) is missing a value: set \w+ in \.env/);
    expect(() => resolvedCompose(TEXT, { POSTGRES_PASSWORD: 'x' })).toThrow(/DELTAFLOW_DB_PASSWORD/);
    expect(() => resolvedCompose(TEXT, { ...ENV, DELTAFLOW_DB_PASSWORD: '' })).toThrow(/DELTAFLOW_DB_PASSWORD/);
    // no literal password anywhere: every PASSWORD value is a required variable
    const raw = parseCompose(TEXT);
    for (const [name, svc] of Object.entries(raw.services)) {
      for (const [k, v] of Object.entries(svc.environment ?? {})) {
        if (/PASSWORD/.test(k)) expect([name, k, String(v)]).toEqual([name, k, expect.stringMatching(/^\$\{\w+:\?.+\}$/)]);
      }
    }
  });

  it('connects the services as the deltaflow role, never the superuser, and only those that use PostgreSQL', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      const url = svc.environment?.DATABASE_URL;
      if (DB_SERVICES.includes(name)) expect([name, url]).toEqual([name, 'postgres://deltaflow:appSecret2@postgres:5432/deltaflow']);
      else expect([name, url]).toEqual([name, undefined]);
    }
    expect(compose.services.postgres.environment).toMatchObject({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: 'superSecret1', DELTAFLOW_DB_PASSWORD: 'appSecret2' });
  });

  it('documents every variable it reads in infra/docker/env.example', () => {
    const example = read('infra/docker/env.example');
    for (const v of new Set(variablesIn(TEXT).map((x) => x.name))) expect([v, example.includes(v)]).toEqual([v, true]);
  });
});

describe('docker-compose.yml: Kafka', () => {
  const kafka = compose.services.kafka;

  it('keeps its log dir on the named volume (the image would put it in /tmp/kraft-combined-logs)', () => {
    const logDirs = String(kafka.environment?.KAFKA_LOG_DIRS);
    expect(logDirs).toBe('/var/lib/kafka/data');
    expect(kafka.volumes).toContain(`kafka-data:${logDirs}`);
    expect(logDirs.startsWith('/tmp')).toBe(false);
    expect(Object.keys(compose.volumes ?? {})).toContain('kafka-data');
  });

  it('is a KRaft single node with a fixed cluster id and a health check', () => {
    expect(kafka.image).toBe(IMAGES.kafka);
    expect(kafka.environment).toMatchObject({ KAFKA_PROCESS_ROLES: 'broker,controller', KAFKA_CONTROLLER_QUORUM_VOTERS: '1@kafka:9093', KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://kafka:9092' });
    expect(String(kafka.environment?.CLUSTER_ID)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(kafka.healthcheck?.test?.join(' ')).toMatch(/kafka-broker-api-versions\.sh --bootstrap-server localhost:9092/);
    expect(kafka.restart).toBe('unless-stopped');
  });

  it('gives every topic the same partition count, 12 unless DELTAFLOW_TOPIC_PARTITIONS says otherwise', () => {
    expect(String(kafka.environment?.KAFKA_NUM_PARTITIONS)).toBe('12');
    expect(compose.services['kafka-topics'].environment?.DELTAFLOW_TOPIC_PARTITIONS).toBe('12');
    const other = resolvedCompose(TEXT, { ...ENV, DELTAFLOW_TOPIC_PARTITIONS: '24' });
    expect([other.services.kafka.environment?.KAFKA_NUM_PARTITIONS, other.services['kafka-topics'].environment?.DELTAFLOW_TOPIC_PARTITIONS]).toEqual(['24', '24']);
  });

  it('keeps unconfigured topics forever; kafka-topics bounds the bulk ones', () => {
    expect(String(kafka.environment?.KAFKA_LOG_RETENTION_MS)).toBe('-1');
    expect(compose.services['kafka-topics'].environment).toMatchObject({ SERVICE: 'kafka-topics', DELTAFLOW_BULK_RETENTION_MS: '604800000' });
    expect(compose.services['kafka-topics'].restart).toBe('no');
  });
});

describe('docker-compose.yml: PostgreSQL', () => {
  const pg = compose.services.postgres;

  it('is images.json postgres, with its data on a volume and a TCP readiness check', () => {
    expect(pg.image).toBe(IMAGES.postgres);
    expect(pg.volumes).toContain('pg-data:/var/lib/postgresql/data');
    expect(pg.healthcheck?.test).toEqual(['CMD', 'pg_isready', '-h', '127.0.0.1', '-p', '5432', '-U', 'deltaflow', '-d', 'deltaflow']);
  });

  it('runs the role script from the repository at initialisation', () => {
    const mount = pg.volumes?.find((v) => v.includes('/docker-entrypoint-initdb.d/'));
    expect(mount).toBe('./infra/docker/postgres/10-deltaflow-role.sh:/docker-entrypoint-initdb.d/10-deltaflow-role.sh:ro');
    const script = path.join(ROOT, 'infra/docker/postgres/10-deltaflow-role.sh');
    expect(fs.statSync(script).mode & 0o111).not.toBe(0);
  });
});

describe('docker-compose.yml: the services', () => {
  it('runs one container per service, each an app of this repository', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...SERVICES, 'dsf', 'kafka', 'kafka-topics', 'postgres'].sort());
    for (const s of SERVICES) expect(fs.existsSync(path.join(ROOT, 'apps', s, 'project.json'))).toBe(true);
  });

  it.each(SERVICES)('%s: the one image, SERVICE, restart policy, healthy dependencies, health check, data volume', (name) => {
    const svc = compose.services[name];
    expect(svc.image).toBe('deltaflow:local');
    expect(svc.build).toEqual({ context: '.', dockerfile: 'infra/docker/Dockerfile' });
    expect(svc.environment).toMatchObject({ SERVICE: name, KAFKA_BROKERS: 'kafka:9092', DELTAFLOW_DATA_DIR: '/data', SOV_VOLUME_DIR: '/tapes', HTTP_HOST: '0.0.0.0', HTTP_PORT: String(HTTP_PORT) });
    expect(svc.restart).toBe('unless-stopped');
    expect(svc.container_name).toBeUndefined(); // `docker compose up --scale` needs generated names
    const deps = svc.depends_on ?? {};
    expect(deps.kafka).toEqual({ condition: 'service_healthy' });
    expect(deps['kafka-topics']).toEqual({ condition: 'service_completed_successfully' });
    if (DB_SERVICES.includes(name)) expect(deps.postgres).toEqual({ condition: 'service_healthy' });
    for (const d of Object.values(deps)) expect(['service_healthy', 'service_completed_successfully']).toContain(d.condition);
    expect(svc.healthcheck).toEqual({ test: ['CMD', 'node', '/app/infra/docker/healthcheck.js'], interval: '15s', timeout: '5s', retries: 3, start_period: '60s' });
    expect(svc.volumes).toContain('deltaflow-data:/data');
    expect(svc.logging).toEqual({ driver: 'json-file', options: { 'max-size': '20m', 'max-file': '5' } });
  });

  it('keeps tape volumes on their own volume, written by the stream multiplexer only', () => {
    const tapes = Object.entries(compose.services).flatMap(([name, s]) => (s.volumes ?? []).filter((v) => v.startsWith('deltaflow-tapes:')).map((v) => [name, v]));
    expect(tapes.sort()).toEqual([
      ['catalog', 'deltaflow-tapes:/tapes:ro'],
      ['merge-engine', 'deltaflow-tapes:/tapes:ro'],
      ['stream-multiplexer', 'deltaflow-tapes:/tapes'],
    ]);
    expect(compose.services['stream-multiplexer'].environment?.SOV_VOLUME_DIR).toBe('/tapes');
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual(['deltaflow-data', 'deltaflow-tapes', 'kafka-data', 'pg-data']);
  });

  it('publishes only the catalog and the console, on 127.0.0.1, on their HTTP ports', () => {
    const published = Object.entries(compose.services).filter(([, s]) => s.ports?.length).map(([n, s]) => [n, s.ports]);
    expect(published).toEqual([
      ['catalog', ['127.0.0.1:8080:8080']],
      ['console', ['127.0.0.1:8087:8080']],
    ]);
    expect(resolvedCompose(TEXT, { ...ENV, CONSOLE_PORT: '18087' }).services.console.ports).toEqual(['127.0.0.1:18087:8080']);
    // the console reaches the catalog and the /metrics of every other service by its name
    const console = compose.services.console.environment ?? {};
    expect(console.CATALOG_URL).toBe(`http://catalog:${HTTP_PORT}`);
    expect(String(console.CONSOLE_SERVICES).split(',').map((e) => e.split('=')[0]).sort()).toEqual(SERVICES.filter((s) => s !== 'console').sort());
    expect(compose.services.catalog.environment?.CATALOG_HTTP_PORT).toBe(String(HTTP_PORT));
    expect(resolvedCompose(TEXT, { ...ENV, CATALOG_PORT: '18080' }).services.catalog.ports).toEqual(['127.0.0.1:18080:8080']);
  });

  it('offers the dsf command on demand only (profile tools), against the catalog', () => {
    const dsf = compose.services.dsf;
    expect(dsf.profiles).toEqual(['tools']);
    expect(dsf.environment).toMatchObject({ SERVICE: 'cli', CATALOG_URL: `http://catalog:${HTTP_PORT}` });
    expect(dsf.healthcheck).toEqual({ disable: true });
  });
});

describe('interpolation as Compose does it (the helper these checks rely on)', () => {
  it('handles the forms the file uses', () => {
    expect(interpolate('${A:-x}/${B-y}/${C}', { B: '' })).toBe('x//');
    expect(interpolate('$${A} ${A}', { A: 'v' })).toBe('${A} v');
    expect(() => interpolate('${P:?set P}', { P: '' })).toThrow('required variable P is missing a value: set P');
    expect(interpolate('${P?set P}', { P: '' })).toBe('');
  });
});
