import fs from 'node:fs';
import { startEmbeddedKafka } from '@deltaflow/embedded-kafka';
import { tempDir } from './temp-dir';

export interface TestKafka {
  readonly brokers: string[];
  /** stops the broker and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/** A fresh in-process embedded broker on a free port, its log in a temp dir. */
export async function testKafka(opts: { numPartitions?: number } = {}): Promise<TestKafka> {
  const dataDir = tempDir('deltaflow-test-kafka');
  try {
    const broker = await startEmbeddedKafka({ dataDir, port: 0, ...(opts.numPartitions ? { numPartitions: opts.numPartitions } : {}) });
    let stopped: Promise<void> | undefined;
    return {
      brokers: broker.brokers,
      stop: () =>
        (stopped ??= broker.stop().finally(() => fs.rmSync(dataDir, { recursive: true, force: true }))),
    };
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}
