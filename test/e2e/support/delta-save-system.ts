/**
 * The Delta Save system of the end-to-end tests, on real processes: the embedded broker and a test
 * PostgreSQL, the reference nucleus in this process writing database `dbid` (its container files
 * copied at every save's end sync: the tests' oracle), and the services as their own OS processes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sampleGeometryOfSize } from '@deltaflow/blocks';
import { ALL_TOPICS } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { createKafka } from '@deltaflow/service-kit';
import { DsfDriver, Publisher, ServiceProcesses, testDatabase, TopicCollector, type TestDatabase } from '@deltaflow/testing';
import { startNucleusSim, type NucleusSim } from '../../../apps/nucleus-sim/src/app';

export interface DeltaSaveSystem {
  readonly root: string;
  readonly dataDir: string;
  readonly kafka: EmbeddedKafka;
  readonly db: TestDatabase;
  readonly nucleus: NucleusSim;
  readonly services: ServiceProcesses;
  readonly pub: Publisher;
  /** dsf.events without progress */
  readonly events: TopicCollector;
  readonly dsf: DsfDriver;
  /** where the nucleus copied its files at sync `syncId` */
  copyAt(syncId: string): string;
  stop(): Promise<void>;
}

export async function startDeltaSaveSystem(o: {
  name: string;
  dbid: number;
  dbMib: number;
  services: readonly string[];
  env?: Record<string, string>;
  /** configs every Deltaflow topic is created with before anything runs (e.g. small segment.bytes) */
  topicConfigs?: Record<string, string>;
}): Promise<DeltaSaveSystem> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `${o.name}-`));
  fs.chmodSync(root, 0o755); // PostgreSQL runs as another OS user when we are root
  const dataDir = path.join(root, 'data');
  const copies = path.join(root, 'copies');
  const kafka = await startEmbeddedKafka({ dataDir: path.join(root, 'kafka'), fsync: 'never' });
  if (o.topicConfigs) {
    const admin = createKafka({ clientId: `${o.name}-topics`, brokers: kafka.brokers }).admin();
    await admin.connect();
    const configEntries = Object.entries(o.topicConfigs).map(([name, value]) => ({ name, value }));
    await admin.createTopics({ waitForLeaders: true, topics: ALL_TOPICS.map((topic) => ({ topic, configEntries })) });
    await admin.disconnect();
  }
  const db = await testDatabase();
  const nucleus = await startNucleusSim({
    brokers: kafka.brokers,
    dbid: o.dbid,
    dataDir: path.join(dataDir, 'nucleus-sim', `db${o.dbid}`),
    geometry: sampleGeometryOfSize(o.dbMib),
    workload: { txnIntervalMs: 5, blocksPerTxn: 8 },
    syncIntervalMs: 0,
    // the oracle: the database's files as they are at each save's end sync
    copyAtSync: (syncId) => (syncId.endsWith('.end') ? path.join(copies, syncId) : undefined),
  });
  const services = new ServiceProcesses({ KAFKA_BROKERS: kafka.brokers.join(','), DATABASE_URL: db.url, DELTAFLOW_DATA_DIR: dataDir, CHANGE_LOGGER_DATABASES: nucleus.databaseDir, ...o.env });
  const pub = await new Publisher(kafka.brokers).start();
  const events = await new TopicCollector(kafka.brokers, 'dsf.events', ['SaveProgress', 'OperationProgress']).start();
  await Promise.all(o.services.map((s) => services.start(s)));
  return {
    root,
    dataDir,
    kafka,
    db,
    nucleus,
    services,
    pub,
    events,
    dsf: new DsfDriver(pub, events),
    copyAt: (syncId) => path.join(copies, syncId),
    async stop() {
      await services.stopAll();
      await events.stop();
      await pub.stop();
      await nucleus.stop();
      await kafka.stop();
      await db.drop();
    },
  };
}
