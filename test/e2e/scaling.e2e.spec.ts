/**
 * Scaling out and in on real processes: for each of the change logger, save writer, DSIM builder,
 * merge engine and stream multiplexer, a second process joins the same consumer group while
 * several databases are saved under a running workload, then the first process is stopped
 * (1 -> 2 -> 1). During the multiplexer's run the deltas go to streams (one per database, on
 * different partitions), so streams move between the two instances while client files are open. Topics have
 * four partitions (as `npm start` and the deployments create them), so the co-partitioned
 * assignment splits the databases over the two instances and moves them back.
 *
 * What must hold: every save is reported (completed or failed, none hangs), the change logger
 * dead-letters nothing (no change lost or refused), duplicates are absorbed, and each database's
 * chain (full save + every completed delta, each with its DSIM) restores to the digest its
 * nucleus recorded at the last delta's end sync (the streamed deltas read back from the volumes).
 * A superblock is never placed at two places (sov.events' RunPlaced).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sampleGeometryOfSize } from '@deltaflow/blocks';
import type { MessageOfType } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { createKafka, partitionOfKey } from '@deltaflow/service-kit';
import { DsfDriver, freePort, Publisher, ServiceProcesses, testDatabase, TopicCollector, type TestDatabase } from '@deltaflow/testing';
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
let sovEvents: TopicCollector;
/** each database's stream: names that fall on different partitions, so the two multiplexers share them */
const streamOf = new Map<number, string>();

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
  const catalogPort = await freePort();
  services = new ServiceProcesses({
    CATALOG_HTTP_PORT: String(catalogPort),
    CATALOG_URL: `http://127.0.0.1:${catalogPort}`,
    KAFKA_BROKERS: kafka.brokers.join(','),
    DATABASE_URL: db.url,
    DELTAFLOW_DATA_DIR: dataDir,
    CHANGE_LOGGER_DATABASES: DBIDS.map((d) => nuclei.get(d)!.databaseDir).join(','),
  });
  pub = await new Publisher(kafka.brokers).start();
  events = await new TopicCollector(kafka.brokers, 'dsf.events', ['SaveProgress', 'OperationProgress']).start();
  dlq = await new TopicCollector(kafka.brokers, 'dsf.block-changes.dlq').start();
  sovEvents = await new TopicCollector(kafka.brokers, 'sov.events').start();
  dsf = new DsfDriver(pub, events);
  await Promise.all(['change-logger', 'dsim-builder', 'save-writer', 'merge-engine', 'stream-multiplexer', 'catalog'].map((s) => services.start(s)));
  const used = new Set<number>();
  for (let i = 0; streamOf.size < DBIDS.length; i++) {
    const p = partitionOfKey(`S${i}`, PARTITIONS);
    if (used.has(p)) continue;
    used.add(p);
    streamOf.set(DBIDS[streamOf.size], `S${i}`);
  }
  for (const stream of streamOf.values()) {
    await pub.publish({ type: 'StreamDefine', stream });
    await sovEvents.waitFor((e) => e.type === 'DeviceAdded' && 'stream' in e && e.stream === stream, 60_000, `stream ${stream} with a device`);
  }
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
  await sovEvents?.stop();
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
async function deltaRound(tag: string, restores = false, streamed = false): Promise<{ completed: number; failed: string[] }> {
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
      const stream = streamOf.get(dbid)!;
      const o = streamed
        ? await dsf.send({ type: 'SaveRequested', correlationId: name, dbid, kind: 'delta', online: true, destination: { kind: 'stream', stream, name } })
        : await dsf.save(dbid, 'delta', name);
      if (o.type !== 'SaveCompleted') return `${name}: ${o.type} ${(o as MessageOfType<'SaveFailed'>).code}`;
      const u = await dsf.dsim(dbid, 'DsimUnloadRequested', `${name}.dsim`);
      expect({ name, u }).toMatchObject({ name, u: { type: 'DsimUnloaded' } });
      chains.get(dbid)!.inputs.push(streamed ? `stream:${stream}/${name}` : name, `${name}.dsim`);
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
  const streamed = service === 'stream-multiplexer';
  const joining = services.start(second, { app: service });
  rounds.push(await deltaRound(`${service}-out-a`, restores, streamed));
  await joining;
  rounds.push(await deltaRound(`${service}-out-b`, restores, streamed));
  // the second instance took a share of the partitions (the co-partitioned assignment split them)
  const taken = services.grep(new RegExp(`^\\[${second}\\].*assigned (dsf|sov)\\.`));
  expect(taken.length).toBeGreaterThan(0);
  if (streamed) expect(services.grep(new RegExp(`^\\[${second}\\].*serving S`)).length).toBeGreaterThan(0);
  // scale in: the first instance leaves while saves run
  const leaving = services.stop(service);
  rounds.push(await deltaRound(`${service}-in-a`, restores, streamed));
  await leaving;
  rounds.push(await deltaRound(`${service}-in-b`, restores, streamed));
  // back to the usual name, for the next service's run
  await services.start(service);
  await services.stop(second);
  const completed = rounds.reduce((n, r) => n + r.completed, 0);
  const failed = rounds.flatMap((r) => r.failed);
  report.push(`  ${service}: 1 -> 2 -> 1 instances, ${DBIDS.length} databases, ${completed} delta saves completed, ${failed.length} failed cleanly${failed.length ? ` (${failed.join('; ')})` : ''}, ${Math.round((Date.now() - t0) / 1000)} s`);
  // every save answered (none hangs: deltaRound awaited each), and most of them completed
  expect(completed).toBeGreaterThanOrEqual(rounds.length * DBIDS.length - 2);
  expect(dlq.messages).toEqual([]);
  if (streamed) expect(placedTwice()).toEqual([]);
}

/** Superblocks that RunPlaced events put at two different places (a redelivered placement repeats the same place). */
function placedTwice(): string[] {
  const at = new Map<string, string>();
  const twice: string[] = [];
  for (const e of sovEvents.messages) {
    if (e.type !== 'RunPlaced') continue;
    const r = e as MessageOfType<'RunPlaced'>;
    for (let seq = r.firstSeq; seq < r.firstSeq + r.superblocks; seq++) {
      const key = `${r.incarnation}#${seq}`;
      const where = `${r.volser}@${r.position}`;
      const before = at.get(key);
      if (before === undefined) at.set(key, where);
      else if (before !== where) twice.push(`${r.clientFile} superblock ${seq}: ${before} and ${where}`);
    }
  }
  return twice;
}

describe('scaling each service 1 -> 2 -> 1 on real processes while three databases are saved', () => {
  for (const service of ['change-logger', 'save-writer', 'dsim-builder', 'merge-engine', 'stream-multiplexer']) {
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
