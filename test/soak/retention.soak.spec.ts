/**
 * The retention under a running workload, short enough for npm test (the long version, with
 * figures per minute: test/soak/retention.sh). The Delta Save services run as OS processes with
 * the retention on a short interval, the topics have 256 KiB segments (the deploy's are 16 MiB), the
 * nucleus writes fast, and a delta save with its DSIM unload follows the last one at once. After a
 * warm-up, dsf.block-changes, dsf.plog and dsf.dlog stay within a bound set by the retention while
 * twice dsf.block-changes' bound goes through it, and the chain of saves restores to the
 * nucleus's digest at the last save's end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MessageOfType } from '@deltaflow/contracts';
import { createKafka } from '@deltaflow/service-kit';
import { startDeltaSaveSystem, type DeltaSaveSystem } from '../e2e/support/delta-save-system';

jest.setTimeout(240_000);

const DBID = 1;
const MiB = 1024 * 1024;
const SEGMENT = 256 * 1024;
/**
 * What each topic may hold after the warm-up: a few segments beyond what a retention pass (1 s)
 * keeps; dsf.plog also keeps the PLOG since the start of the last save (DSIM_BUILDER_PLOG_KEEP_SAVES=1,
 * what REGENERATE needs) and is cut only at a sync point.
 */
const BOUND = { 'dsf.block-changes': 4 * MiB, 'dsf.plog': 8 * MiB, 'dsf.dlog': 3 * MiB } as const;
const TOPICS = Object.keys(BOUND) as Array<keyof typeof BOUND>;
/** how much goes through dsf.block-changes after the warm-up */
const THROUGH = 2 * BOUND['dsf.block-changes'];
let sys: DeltaSaveSystem;

const bytesOf = (topic: string): number => {
  const dir = path.join(sys.root, 'kafka', 'topics', topic);
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
};

beforeAll(async () => {
  sys = await startDeltaSaveSystem({
    name: 'retention-soak',
    dbid: DBID,
    dbMib: 4,
    services: ['change-logger', 'dsim-builder', 'save-writer', 'merge-engine'],
    topicConfigs: { 'segment.bytes': String(SEGMENT) },
    env: { CHANGE_LOGGER_RETENTION_INTERVAL_MS: '1000', CHANGE_LOGGER_DLOG_SNAPSHOT_RECORDS: '200', DSIM_BUILDER_PLOG_RETENTION_INTERVAL_MS: '1000', DSIM_BUILDER_PLOG_KEEP_SAVES: '1' },
  });
});

afterAll(async () => {
  await sys?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.log(sys.services.tail(80));
});

it('keeps the bulk topics within a bound while saves and DSIM unloads go on, and the chain still restores to the nucleus digest', async () => {
  const inputs: string[] = [];
  const step = async (kind: 'full' | 'delta', name: string) => {
    expect(await sys.dsf.save(DBID, kind, name)).toMatchObject({ type: 'SaveCompleted' });
    expect(await sys.dsf.dsim(DBID, 'DsimUnloadRequested', `${name}.dsim`)).toMatchObject({ type: 'DsimUnloaded' });
    inputs.push(name, `${name}.dsim`);
  };
  await step('full', 'full');
  await step('delta', 'd0');
  const admin = createKafka({ clientId: 'retention-soak', brokers: sys.kafka.brokers }).admin();
  await admin.connect();
  const written = async () => Number((await admin.fetchTopicOffsets('dsf.block-changes'))[0].high);
  const startAt = await written();
  const peak: Record<string, number> = Object.fromEntries(TOPICS.map((t) => [t, 0]));
  let n = 0;
  // every record holds a block image of at least 4 KiB: go on until THROUGH went through
  const through = async () => ((await written()) - startAt) * 4096;
  const giveUp = Date.now() + 120_000;
  while ((await through()) < THROUGH) {
    if (Date.now() > giveUp) throw new Error(`the workload wrote only ${((await through()) / MiB).toFixed(1)} MiB in two minutes`);
    await step('delta', `d${++n}`);
    for (const t of TOPICS) peak[t] = Math.max(peak[t], bytesOf(t));
  }
  const went = await through();
  const low = Number((await admin.fetchTopicOffsets('dsf.block-changes'))[0].low);
  await admin.disconnect();
  console.log(`retention soak: ${n} delta saves; ${(went / MiB).toFixed(0)} MiB of block images through dsf.block-changes; peak bytes on disk: ${TOPICS.map((t) => `${t} ${(peak[t] / MiB).toFixed(1)} MiB (bound ${BOUND[t] / MiB})`).join(', ')}`);
  expect(n).toBeGreaterThanOrEqual(2);
  expect(low).toBeGreaterThan(startAt);
  for (const t of TOPICS) expect({ topic: t, within: peak[t] <= BOUND[t], peak: peak[t] }).toEqual({ topic: t, within: true, peak: peak[t] });

  // the whole chain, every delta with its DSIM, restores to the database at the last save's end
  const restored = (await sys.dsf.restore(DBID, 'soak-restore', inputs)) as MessageOfType<'RestoreCompleted'>;
  expect(restored).toMatchObject({ type: 'RestoreCompleted', digest: sys.nucleus.digestAt(`d${n}.end`)!.digest });
});
