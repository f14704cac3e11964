import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { catalogUrl, endpointsFilePath, EndpointsError, kafkaConnection } from './endpoints';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'dsf-endpoints-'));
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function writeEndpoints(content: object | string) {
  fs.mkdirSync(path.join(home, 'run'), { recursive: true });
  fs.writeFileSync(path.join(home, 'run', 'endpoints.json'), typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
}

const running = { kafkaBrokers: ['127.0.0.1:19092'], catalogUrl: 'http://127.0.0.1:18080', pid: process.pid, startedAt: '2026-11-22T23:00:00.000Z' };

describe('where dsf finds the system', () => {
  it('KAFKA_BROKERS and CATALOG_URL win over a running system', () => {
    writeEndpoints(running);
    const env = { DELTAFLOW_HOME: home, KAFKA_BROKERS: 'k1:9092,k2:9092', CATALOG_URL: 'http://cat:8080/' };
    expect(kafkaConnection({ env })).toEqual({ brokers: ['k1:9092', 'k2:9092'] });
    expect(catalogUrl({ env })).toBe('http://cat:8080');
  });

  it('without them: the endpoints file of the running system in DELTAFLOW_HOME', () => {
    writeEndpoints(running);
    const env = { DELTAFLOW_HOME: home };
    expect(kafkaConnection({ env })).toEqual({ brokers: ['127.0.0.1:19092'] });
    expect(catalogUrl({ env })).toBe('http://127.0.0.1:18080');
  });

  it('DELTAFLOW_HOME defaults to ./.deltaflow, like the launcher', () => {
    expect(endpointsFilePath({ env: {}, cwd: '/srv/deltaflow' })).toBe('/srv/deltaflow/.deltaflow/run/endpoints.json');
    expect(endpointsFilePath({ env: { DELTAFLOW_HOME: 'h' }, cwd: '/srv' })).toBe('/srv/h/run/endpoints.json');
  });

  it('KAFKA_TLS / KAFKA_SASL settings apply to brokers from the file too', () => {
    writeEndpoints(running);
    const conn = kafkaConnection({ env: { DELTAFLOW_HOME: home, KAFKA_TLS: '1', KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' } });
    expect(conn).toEqual({ brokers: ['127.0.0.1:19092'], ssl: {}, sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } });
  });

  it('nothing found: says where it looked', () => {
    const file = path.join(home, 'run', 'endpoints.json');
    expect(() => kafkaConnection({ env: { DELTAFLOW_HOME: home } })).toThrow(EndpointsError);
    expect(() => kafkaConnection({ env: { DELTAFLOW_HOME: home } })).toThrow(`KAFKA_BROKERS is not set and no running Deltaflow was found: no ${file}`);
    expect(() => catalogUrl({ env: { DELTAFLOW_HOME: home } })).toThrow(`CATALOG_URL is not set and no running Deltaflow was found: no ${file}`);
  });

  it('a stale file (its launcher gone) is ignored, with a note saying so', () => {
    const pid = deadPid();
    writeEndpoints({ ...running, pid });
    const notes: string[] = [];
    expect(() => kafkaConnection({ env: { DELTAFLOW_HOME: home }, note: (l) => notes.push(l) })).toThrow(/is stale: the launcher that wrote it \(pid \d+, started 2026-11-22T23:00:00.000Z\) is gone/);
    expect(notes).toEqual([expect.stringMatching(new RegExp(`^dsf: ignoring .*endpoints.json is stale: the launcher that wrote it \\(pid ${pid},`))]);
  });

  it('a malformed file is refused with what was expected', () => {
    writeEndpoints('{"kafkaBrokers": "127.0.0.1:19092", "pid": 1}');
    expect(() => kafkaConnection({ env: { DELTAFLOW_HOME: home } })).toThrow(/endpoints.json: expected \{kafkaBrokers: \["host:port", \.\.\.\]/);
    writeEndpoints('not json');
    expect(() => kafkaConnection({ env: { DELTAFLOW_HOME: home } })).toThrow(/endpoints.json: not JSON/);
  });

  it('the catalog of a system on other brokers than KAFKA_BROKERS is not used', () => {
    writeEndpoints(running);
    expect(() => catalogUrl({ env: { DELTAFLOW_HOME: home, KAFKA_BROKERS: 'elsewhere:9092' } })).toThrow(/uses other brokers \(127.0.0.1:19092\) than KAFKA_BROKERS \(elsewhere:9092\)/);
    expect(catalogUrl({ env: { DELTAFLOW_HOME: home, KAFKA_BROKERS: '127.0.0.1:19092' } })).toBe('http://127.0.0.1:18080');
  });
});
