/**
 * The correctness oracle of Delta Save, on the embedded broker and PostgreSQL, with every
 * service in-process: while the reference nucleus runs its workload, an online full save,
 * two online delta saves and (nucleus stopped) an offline delta save; each prefix of the
 * chain, restored with its unloaded DSIMs, must equal the nucleus's database as of that
 * save's end sync. Then the save writer is killed during a delta: the save is reported
 * failed, the DLOG keeps every change, and the next delta restores correctly.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import type { MessageOfType } from '@deltaflow/contracts';
import { Publisher, TopicCollector } from '@deltaflow/testing';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { startEmbeddedPostgres, type RunningPostgres } from '@deltaflow/embedded-postgres';
import { restoreDelta } from '@deltaflow/merge';
import { startCatalog, type RunningCatalog } from '../../apps/catalog/src/app';
import { runCli } from '../../apps/cli/src/run';
import { databasesFromDirs, startChangeLogger, type RunningChangeLogger } from '../../apps/change-logger/src/app';
import { startDsimBuilder, type RunningDsimBuilder } from '../../apps/dsim-builder/src/app';
import { startNucleusSim, type NucleusSim } from '../../apps/nucleus-sim/src/app';
import { startSaveWriter, type RunningSaveWriter } from '../../apps/save-writer/src/app';

jest.setTimeout(240_000);

const DBID = 1;
let root: string;
let kafka: EmbeddedKafka;
let pg: RunningPostgres;
let nucleus: NucleusSim;
let changeLogger: RunningChangeLogger;
let writer: RunningSaveWriter;
let dsim: RunningDsimBuilder;
let catalog: RunningCatalog;
let pub: Publisher;
let events: TopicCollector;
let dataDir: string;
const quiet = () => undefined;

const startWriter = () => startSaveWriter({ brokers: kafka.brokers, dataDir, databaseDir: () => nucleus.databaseDir, fsync: false, log: quiet });
const startLogger = async () =>
  startChangeLogger({ brokers: kafka.brokers, databases: databasesFromDirs([nucleus.databaseDir]), log: quiet });

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-e2e-'));
  fs.chmodSync(root, 0o755); // PostgreSQL runs as another OS user when we are root
  [kafka, pg] = await Promise.all([startEmbeddedKafka({ dataDir: path.join(root, 'kafka') }), startEmbeddedPostgres({ dataDir: path.join(root, 'pg'), fsync: false })]);
  dataDir = path.join(root, 'data');
  pub = await new Publisher(kafka.brokers).start();
  events = await new TopicCollector(kafka.brokers, 'dsf.events').start();
  nucleus = await startNucleusSim({
    brokers: kafka.brokers,
    dataDir: path.join(root, 'nucleus'),
    dbid: DBID,
    workload: { txnIntervalMs: 2, blocksPerTxn: 4, utilityEveryTxns: 25, utilityBlocks: 8 },
    syncIntervalMs: 0,
    log: quiet,
  });
  changeLogger = await startLogger();
  dsim = await startDsimBuilder({ brokers: kafka.brokers, databaseUrl: pg.url, dataDir, databaseDir: () => nucleus.databaseDir, fsync: false, log: quiet });
  writer = await startWriter();
  catalog = await startCatalog({ brokers: kafka.brokers, databaseUrl: pg.url, httpPort: 0, schema: 'catalog' });
});

afterAll(async () => {
  for (const s of [catalog, writer, dsim, changeLogger, nucleus]) await s?.stop().catch(() => undefined);
  await events?.stop();
  await pub?.stop();
  await kafka?.stop();
  await pg?.stop();
});

let n = 0;
async function save(mode: 'full' | 'delta', online: boolean, cid = `save-${++n}`) {
  await pub.publish({ type: 'SaveRequested', correlationId: cid, dbid: DBID, kind: mode, online, destination: { kind: 'directory', name: cid } });
  return cid;
}
async function completed(cid: string): Promise<MessageOfType<'SaveCompleted'>> {
  const o = await events.waitFor<MessageOfType<'SaveCompleted'> | MessageOfType<'SaveFailed'>>(
    (m) => (m.type === 'SaveCompleted' || m.type === 'SaveFailed') && m.correlationId === cid,
    120_000,
    `outcome of ${cid}`,
  );
  if (o.type !== 'SaveFailed') return o;
  throw new Error(`${cid} failed: ${o.code}: ${o.reason}`);
}
/** Waits for the save's DSIM to complete, unloads it, and returns the unloaded data set's name. */
async function unloadDsim(cid: string): Promise<string> {
  await events.waitFor((m) => m.type === 'DsimCompleted' && m.correlationId === cid, 120_000, `DSIM of ${cid}`);
  const name = `dsim-${cid}`;
  await pub.publish({ type: 'DsimUnloadRequested', correlationId: `unload-${cid}`, dbid: DBID, destination: { kind: 'directory', name } });
  const o = await events.waitFor((m) => (m.type === 'DsimUnloaded' || m.type === 'CommandRejected') && m.correlationId === `unload-${cid}`, 120_000);
  if (o.type !== 'DsimUnloaded') throw new Error(`unload of ${cid}: ${JSON.stringify(o)}`);
  return name;
}
async function restoredDigest(inputs: string[], target: string): Promise<string> {
  await restoreDelta({ inputs: inputs.map((i) => path.join(dataDir, 'datasets', i)), target: path.join(root, target) });
  const db = BlockDatabase.open(path.join(root, target), { readOnly: true });
  try {
    return db.digest();
  } finally {
    db.close();
  }
}
const expectedAtEnd = (cid: string) => {
  const d = nucleus.digestAt(`${cid}.end`);
  if (d === undefined) throw new Error(`the nucleus recorded no digest at ${cid}.end`);
  return d.digest;
};

describe('Delta Save end to end', () => {
  const chain: string[] = [];
  const expected: string[] = [];

  it('online full and two online deltas while the nucleus writes: each prefix restores to the database at its end sync', async () => {
    await nucleus.runTransactions(20);
    const full = await completed(await save('full', true));
    expect(full.online).toBe(true);
    chain.push(full.correlationId, await unloadDsim(full.correlationId));
    expected.push(expectedAtEnd(full.correlationId));

    for (let i = 0; i < 2; i++) {
      await nucleus.runTransactions(15);
      const d = await completed(await save('delta', true));
      expect(d.dsid).toMatchObject({ full: full.dsid.full, deltaTo: i + 1, lineage: full.dsid.lineage });
      chain.push(d.correlationId, await unloadDsim(d.correlationId));
      expected.push(expectedAtEnd(d.correlationId));
    }

    // prefixes: full+dsim, +d1+dsim, +d2+dsim
    for (let k = 0; k < 3; k++) {
      const got = await restoredDigest(chain.slice(0, 2 * (k + 1)), `restore-${k}`);
      expect({ prefix: k, digest: got }).toEqual({ prefix: k, digest: expected[k] });
    }
    // the oracle can fail: the database changed between the saves, and during them (the DSIMs
    // hold blocks changed between start and end sync, which the save images alone may miss)
    expect(expected[0]).not.toEqual(expected[2]);
    const dsimBlocks = events.messages.flatMap((m) => (m.type === 'DsimCompleted' ? [m.blocks] : []));
    expect(dsimBlocks).toHaveLength(3);
    expect(dsimBlocks.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('a save writer killed mid-save: the save is reported failed, the DLOG keeps every change, the next delta restores correctly', async () => {
    await nucleus.runTransactions(10);
    // hold the change logger so the killed save waits for its DLOG capture
    await changeLogger.stop();
    const killed = await save('delta', true);
    await events.waitFor((m) => m.type === 'SaveStarted' && m.correlationId === killed, 60_000);
    await writer.kill();
    writer = await startWriter();
    const failed = await events.waitFor<MessageOfType<'SaveFailed'>>((m) => m.type === 'SaveFailed' && m.correlationId === killed, 60_000);
    expect(failed.code).toBe('WRITER_RESTARTED');
    changeLogger = await startLogger();

    await nucleus.runTransactions(10);
    const next = await completed(await save('delta', true));
    expect(next.dsid.deltaTo).toBe(3); // the failed save consumed no number
    chain.push(next.correlationId, await unloadDsim(next.correlationId));
    expect(await restoredDigest(chain, 'restore-after-kill')).toBe(expectedAtEnd(next.correlationId));

    // the operator's view: `dsf saves list` over the catalog shows the chain and the failed save
    const out: string[] = [];
    for (let i = 0; i < 300; i++) {
      out.length = 0;
      const code = await runCli(['saves', 'list', '--dbid', String(DBID)], { env: { CATALOG_URL: catalog.httpUrl }, out: (l) => out.push(l), err: (l) => out.push(l) });
      expect(code).toBe(0);
      if (out.filter((l) => /\tcompleted\t/.test(l)).length >= 4 && out.some((l) => /\tfailed\t/.test(l))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out.filter((l) => /\tcompleted\t/.test(l))).toHaveLength(4);
    expect(out.filter((l) => /\tfailed\t/.test(l))).toHaveLength(1);
  });

  // The save writer's offline SaveStarted carries startLsn = the LSN of the NucleusState{inactive}
  // it saw; the change logger records that state change as a sync point, so the capture is exact.
  it('nucleus stopped: an offline delta restores to the database as it stands', async () => {
    await nucleus.runTransactions(10);
    await nucleus.setActive(false);
    const digestOffline = await nucleus.digest();
    const off = await completed(await save('delta', false));
    expect(off).toMatchObject({ online: false });
    chain.push(off.correlationId);
    expect(await restoredDigest(chain, 'restore-offline')).toBe(digestOffline);
  });
});
