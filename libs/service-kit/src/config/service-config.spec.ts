import { bytesFromEnv, intFromEnv, loadServiceConfig } from './service-config';

describe('service configuration from the environment', () => {
  it('reads sizes with units, and refuses anything else naming the variable', () => {
    expect(bytesFromEnv('X', {})).toBeUndefined();
    expect(bytesFromEnv('X', { X: '20000000' })).toBe(20_000_000);
    expect(bytesFromEnv('X', { X: '50MiB' })).toBe(50 * 1024 * 1024);
    expect(bytesFromEnv('X', { X: '1.5 GB' })).toBe(1_500_000_000);
    expect(bytesFromEnv('X', { X: '64k' })).toBe(65_536);
    for (const bad of ['0', '-5', 'fast', '10 parsecs', '1e3']) expect(() => bytesFromEnv('X', { X: bad })).toThrow(/X: expected a positive size/);
  });

  it('derives group, data dir and the per-service HTTP port; refuses a bad port', () => {
    const c = loadServiceConfig('merge-engine', { KAFKA_BROKERS: 'h:1', MERGE_ENGINE_HTTP_PORT: '0', DELTAFLOW_DATA_DIR: '/tmp/x' });
    expect(c).toMatchObject({ groupId: 'deltaflow.merge-engine', dataDir: '/tmp/x', httpPort: 0, kafkaBrokers: ['h:1'] });
    expect(() => loadServiceConfig('catalog', { KAFKA_BROKERS: 'h:1', HTTP_PORT: '70000' })).toThrow(/HTTP_PORT: expected a port/);
  });
});

describe('intFromEnv', () => {
  it('reads a whole number in range, falls back when unset, refuses anything else by name', () => {
    expect(intFromEnv('N', 2, 0, 100, { N: '7' })).toBe(7);
    expect(intFromEnv('N', 2, 0, 100, {})).toBe(2);
    expect(() => intFromEnv('N', 2, 0, 100, { N: '-1' })).toThrow(/N: expected a whole number in 0..100, got "-1"/);
    expect(() => intFromEnv('N', 2, 0, 100, { N: '101' })).toThrow(/0..100/);
    expect(() => intFromEnv('N', 2, 0, 100, { N: '1.5' })).toThrow(/whole number/);
  });
});
