/**
 * Scaling out and in on real processes: for each of the change logger, save writer, DSIM builder
 * and merge engine, a second process joins the same consumer group while several databases are
 * saved under a running workload, then the first process is stopped (1 -> 2 -> 1). Topics have
 * four partitions (as `npm start` and the deployments create them), so the co-partitioned
 * assignment splits the databases over the two instances and moves them back.
 *
 * What must hold: every save is reported (completed or failed, none hangs), the change logger
 * dead-letters nothing (no change lost or refused), duplicates are absorbed, and each database's
 * chain (full save + every completed delta, each with its DSIM) restores to the digest its
 * nucleus recorded at the last delta's end sync.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sampleGeometryOfSize } from '@deltaflow/blocks';
import type { MessageOfType } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { createKafka } from '@deltaflow/service-kit';
import { DsfDriver, Publisher, ServiceProcesses, testDatabase, TopicCollector, type TestDatabase } from '@deltaflow/testing';
import { provisionTopics } from '@deltaflow/topics';
import { startNucleusSim, type NucleusSim } from '../../apps/nucleus-sim/src/app';

jest.setTimeout(900_000);

const DBIDS = [1, 2, 3];
const PARTITIONS = 4;
let root: string;
let dataDir: string;
let kafka: EmbeddedKafka;
let db: TestDatabase;
const nuclei = new Map<number, NucleusSim>();
let services: ServiceProcesses;
let pub: Publisher;
let events: TopicCollector;
let dlq: TopicCollector;
let dsf: DsfDriver;

/** each database's chain: its full save and the completed deltas, each with its unloaded DSIM */
const chains = new Map<number, { inputs: string[]; lastEnd?: string }>();
const report: string[] = [];

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'scaling-e2e-'));
  dataDir = path.join(root, 'data');
  kafka = await startEmbeddedKafka({ dataDir: path.join(root, 'kafka'), fsync: 'never' });
  const admin = createKafka({ clientId: 'scaling-topics', brokers: kafka.brokers }).admin();
  await admin.connect();
  await provisionTopics(admin, { partitions: PARTITIONS, bulkRetentionMs: -1 });
  await admin.disconnect();
  db = await testDatabase();
  for (const dbid of DBIDS) {
    nuclei.set(
      dbid,
      await startNucleusSim({
        brokers: kafka.brokers,
        dbid,
        dataDir: path.join(dataDir, 'nucleus-sim', `db${dbid}`),
        geometry: sampleGeometryOfSize(8),
        workload: { txnIntervalMs: 15, blocksPerTxn: 4 },
        syncIntervalMs: 0,
      }),
    );
  }
  services = new ServiceProcesses({
    KAFKA_BROKERS: kafka.brokers.join(','),
    DATABASE_URL: db.url,
    DELTAFLOW_DATA_DIR: dataDir,
    CHANGE_LOGGER_DATABASES: DBIDS.map((d) => nuclei.get(d)!.databaseDir).join(','),
  });
  pub = await new Publisher(kafka.brokers).start();
  events = await new TopicCollector(kafka.brokers, 'dsf.events', ['SaveProgress', 'OperationProgress']).start();
  dlq = await new TopicCollector(kafka.brokers, 'dsf.block-changes.dlq').start();
  dsf = new DsfDriver(pub, events);
  await Promise.all(['change-logger', 'dsim-builder', 'save-writer', 'merge-engine'].map((s) => services.start(s)));
  // every database's chain starts with an online full save
  await Promise.all(
    DBIDS.map(async (dbid) => {
      const o = await dsf.save(dbid, 'full', `db${dbid}-full`);
      expect(o).toMatchObject({ type: 'SaveCompleted' });
      expect(await dsf.dsim(dbid, 'DsimUnloadRequested', `db${dbid}-full.dsim`)).toMatchObject({ type: 'DsimUnloaded' });
      chains.set(dbid, { inputs: [`db${dbid}-full`, `db${dbid}-full.dsim`], lastEnd: `db${dbid}-full.end` });
    }),
  );
});

afterAll(async () => {
  if (report.length) console.log(`scaling runs:\n${report.join('\n')}`);
  await services?.stopAll();
  await dlq?.stop();
  await events?.stop();
  await pub?.stop();
  for (const n of nuclei.values()) await n.stop();
  await kafka?.stop();
  await db?.drop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.log(services.tail(150));
});

/**
 * One delta save per database (with its DSIM); its outcome is recorded, a completed one joins the
 * chain. With `restores`, each database's chain so far is also restored through the merge engine
 * meanwhile, and must equal its nucleus's digest there.
 */
async function deltaRound(tag: string, restores = false): Promise<{ completed: number; failed: string[] }> {
  const restored = restores
    ? DBIDS.map(async (dbid) => {
        const chain = { ...chains.get(dbid)!, inputs: [...chains.get(dbid)!.inputs] };
        const r = await dsf.restore(dbid, `db${dbid}-${tag}`, chain.inputs);
        expect({ dbid, tag, r }).toMatchObject({ dbid, tag, r: { type: 'RestoreCompleted', digest: nuclei.get(dbid)!.digestAt(chain.lastEnd!)!.digest } });
      })
    : [];
  const outcomes = await Promise.all(
    DBIDS.map(async (dbid) => {
      const name = `db${dbid}-${tag}`;
      const o = await dsf.save(dbid, 'delta', name);
      if (o.type !== 'SaveCompleted') return `${name}: ${o.type} ${(o as MessageOfType<'SaveFailed'>).code}`;
      const u = await dsf.dsim(dbid, 'DsimUnloadRequested', `${name}.dsim`);
      expect({ name, u }).toMatchObject({ name, u: { type: 'DsimUnloaded' } });
      chains.get(dbid)!.inputs.push(name, `${name}.dsim`);
      chains.get(dbid)!.lastEnd = `${name}.end`;
      return undefined;
    }),
  );
  await Promise.all(restored);
  const failed = outcomes.filter((f): f is string => f !== undefined);
  return { completed: DBIDS.length - failed.length, failed };
}

/** 1 -> 2 -> 1 instances of one service while the databases are saved. */
async function scale(service: string): Promise<void> {
  const t0 = Date.now();
  const second = `${service}-2`;
  const rounds: Array<{ completed: number; failed: string[] }> = [];
  // scale out: the second instance joins while saves run
  const restores = service === 'merge-engine';
  const joining = services.start(second, { app: service });
  rounds.push(await deltaRound(`${service}-out-a`, restores));
  await joining;
  rounds.push(await deltaRound(`${service}-out-b`, restores));
  // the second instance took a share of the partitions (the co-partitioned assignment split them)
  const taken = services.grep(new RegExp(`^\\[${second}\\].*assigned dsf\\.`));
  expect(taken.length).toBeGreaterThan(0);
  // scale in: the first instance leaves while saves run
  const leaving = services.stop(service);
  rounds.push(await deltaRound(`${service}-in-a`, restores));
  await leaving;
  rounds.push(await deltaRound(`${service}-in-b`, restores));
  // back to the usual name, for the next service's run
  await services.start(service);
  await services.stop(second);
  const completed = rounds.reduce((n, r) => n + r.completed, 0);
  const failed = rounds.flatMap((r) => r.failed);
  report.push(`  ${service}: 1 -> 2 -> 1 instances, ${DBIDS.length} databases, ${completed} delta saves completed, ${failed.length} failed cleanly${failed.length ? ` (${failed.join('; ')})` : ''}, ${Math.round((Date.now() - t0) / 1000)} s`);
  // every save answered (none hangs: deltaRound awaited each), and most of them completed
  expect(completed).toBeGreaterThanOrEqual(rounds.length * DBIDS.length - 2);
  expect(dlq.messages).toEqual([]);
}

describe('scaling each service 1 -> 2 -> 1 on real processes while three databases are saved', () => {
  for (const service of ['change-logger', 'save-writer', 'dsim-builder', 'merge-engine']) {
    it(`${service}: no change lost, every save reported, duplicates absorbed`, async () => {
      await scale(service);
    });
  }

  it('each database\'s chain restores to its nucleus\'s digest at the last delta\'s end sync', async () => {
    for (const dbid of DBIDS) {
      const chain = chains.get(dbid)!;
      const expected = nuclei.get(dbid)!.digestAt(chain.lastEnd!)?.digest;
      expect(expected).toBeDefined();
      const r = await dsf.restore(dbid, `db${dbid}-scaled`, chain.inputs);
      expect({ dbid, r }).toMatchObject({ dbid, r: { type: 'RestoreCompleted', digest: expected } });
      report.push(`  database ${dbid}: ${chain.inputs.length} data sets restored, digest equal to the nucleus's at ${chain.lastEnd}`);
    }
  });
});
