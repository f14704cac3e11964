/**
 * The Delta Save half end to end, on real processes: the change logger, save writer, DSIM builder and
 * merge engine run as their own OS processes against the embedded broker and PostgreSQL, the
 * reference nucleus writes its database while it is saved. The oracle is independent of the code it
 * checks: the nucleus copies its container files at each save's end sync, and a restored database
 * must be byte-identical to that copy (header, ASSO and DATA files), with restore targets filled with
 * unrelated bytes first so that any block a restore misses shows.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import type { AnyMessage, MessageOfType } from '@deltaflow/contracts';
import { formatDsid, type Dsid } from '@deltaflow/dsid';
import { readUnloadHeader } from '@deltaflow/merge';
import { DataSetReader, DataSetWriter, readSaveHeader } from '@deltaflow/save-format';
import type { DsfDriver, Publisher, ServiceProcesses, TopicCollector } from '@deltaflow/testing';
import type { NucleusSim } from '../../apps/nucleus-sim/src/app';
import { startDeltaSaveSystem, type DeltaSaveSystem } from './support/delta-save-system';

jest.setTimeout(600_000);

const DBID = 1;
let root: string;
let dataDir: string;
let nucleus: NucleusSim;
let services: ServiceProcesses;
let pub: Publisher;
let events: TopicCollector;
let n = 0;

const copies = () => path.join(root, 'copies');
const ds = (name: string) => path.join(dataDir, 'datasets', name);

let sys: DeltaSaveSystem;
beforeAll(async () => {
  sys = await startDeltaSaveSystem({ name: 'merge-engine-e2e', dbid: DBID, dbMib: 48, services: ['change-logger', 'dsim-builder', 'save-writer', 'merge-engine'] });
  ({ root, dataDir, nucleus, services, pub, events, dsf } = sys);
});

afterAll(async () => {
  await sys?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.log(services.tail(120));
});

let dsf: DsfDriver;
const send = (command: AnyMessage & { correlationId: string }) => dsf.send(command);
async function save(kind: 'full' | 'delta', name: string): Promise<MessageOfType<'SaveCompleted'>> {
  const o = await dsf.save(DBID, kind, name);
  expect(o).toMatchObject({ type: 'SaveCompleted' });
  return o as MessageOfType<'SaveCompleted'>;
}
const dsimCommand = (type: 'DsimUnloadRequested' | 'DsimSnapshotRequested', dest: string) => dsf.dsim(DBID, type, dest);
const merge = (dest: string, inputs: string[], extra: { full?: boolean; dsimWaitSec?: number } = {}) => dsf.merge(DBID, dest, inputs, extra);
const restore = (target: string, inputs: string[], extra: Record<string, unknown> = {}) => dsf.restore(DBID, target, inputs, extra);

/** A target database filled with unrelated non-zero bytes, so that a block a restore misses shows. */
function junkTarget(dir: string): void {
  const src = BlockDatabase.open(nucleus.databaseDir, { readOnly: true });
  const geometry = src.geometry;
  src.close();
  const t = BlockDatabase.create(dir, { dbid: DBID, geometry });
  for (const area of ['ASSO', 'DATA'] as const) {
    const blocks = t.blockCount(area);
    for (let r = 1; r <= blocks; r += 64) {
      const k = Math.min(64, blocks - r + 1);
      t.writeBlocks(area, r, Buffer.alloc(k * t.blockSize(area), randomBytes(1)[0] | 1));
    }
  }
  t.close();
}

/** The restored database's files equal the nucleus's copy at that sync, byte for byte. */
function expectSameFiles(restored: string, syncId: string): void {
  for (const f of ['header.json', 'ASSO', 'DATA']) {
    const a = fs.readFileSync(path.join(restored, f));
    const b = fs.readFileSync(path.join(copies(), syncId, f));
    expect({ file: f, equal: a.equals(b), size: a.length }).toEqual({ file: f, equal: true, size: b.length });
  }
}

const dsids: Record<string, Dsid> = {};

describe('merge engine: the seed\'s four-step example on real processes', () => {
  it('saves, consolidates and merges with the DSIDs the seed gives, and both restores equal the database at the last end sync, byte for byte', async () => {
    dsids.full = (await save('full', 'full')).dsid;
    expect(await dsimCommand('DsimUnloadRequested', 'full.dsim')).toMatchObject({ type: 'DsimUnloaded' });
    dsids.d1 = (await save('delta', 'd1')).dsid;
    expect(await dsimCommand('DsimUnloadRequested', 'd1.dsim')).toMatchObject({ type: 'DsimUnloaded' });
    dsids.d2 = (await save('delta', 'd2')).dsid;
    expect(await dsimCommand('DsimUnloadRequested', 'd2.dsim')).toMatchObject({ type: 'DsimUnloaded' });
    // step 3: consolidated delta 1/1-2/t3
    const m1 = await merge('d1-2', ['d1', 'd1.dsim', 'd2', 'd2.dsim']);
    expect(m1).toMatchObject({ type: 'MergeCompleted', kind: 'delta' });
    const c = (m1 as MessageOfType<'MergeCompleted'>).dsid;
    expect([c.full, c.deltaFrom, c.deltaTo, c.timestamp]).toEqual([dsids.full.full, 1, 2, dsids.d2.timestamp]);
    expect(formatDsid(c)).toMatch(/^\d+\/1-2\//);
    // step 4: online delta, merged with the full save, its unloaded DSIM, the consolidated delta and
    // the ORIGINAL DSIM (read where it lives) into a new full save 1/0-3/t4, which frees the DSIM
    dsids.d3 = (await save('delta', 'd3')).dsid;
    expect(await dsimCommand('DsimSnapshotRequested', 'd3.snap')).toMatchObject({ type: 'DsimSnapshotted' });
    const m2 = await merge('full2', ['full', 'full.dsim', 'd1-2', 'd3', '@dsim'], { full: true, dsimWaitSec: 120 });
    expect(m2).toMatchObject({ type: 'MergeCompleted', kind: 'full', releasedDsid: dsids.d3 });
    const f = (m2 as MessageOfType<'MergeCompleted'>).dsid;
    expect([f.deltaFrom, f.deltaTo, f.timestamp]).toEqual([0, 3, dsids.d3.timestamp]);
    expect(formatDsid(f)).toMatch(/^\d+\/0-3\//);
    await events.waitFor((m) => m.type === 'DsimReleased' && m.dsid.timestamp === dsids.d3.timestamp, 60_000);

    // the merged full save alone, and the chain it replaced, restored into junk-filled targets
    const expected = nucleus.digestAt('d3.end')!.digest;
    junkTarget(path.join(dataDir, 'restores', 'from-full2'));
    const r1 = await restore('from-full2', ['full2']);
    expect(r1).toMatchObject({ type: 'RestoreCompleted', digest: expected });
    expectSameFiles(path.join(dataDir, 'restores', 'from-full2'), 'd3.end');
    junkTarget(path.join(dataDir, 'restores', 'from-chain'));
    const r2 = await restore('from-chain', ['full', 'full.dsim', 'd1-2', 'd3', 'd3.snap']);
    expect(r2).toMatchObject({ type: 'RestoreCompleted', digest: expected });
    expectSameFiles(path.join(dataDir, 'restores', 'from-chain'), 'd3.end');
  });

  it('refuses every invalid input combination before writing anything, naming the rule', async () => {
    const cases: Array<[string[], string]> = [
      [['full', 'full.dsim', 'd2', 'd2.dsim'], 'CONTINUOUS_SEQUENCE'], // d1 missing
      [['d1'], 'ONLINE_SAVE_NEEDS_DSIM'], // an online save without its DSIM
      [['d1', 'd2.dsim'], 'DSIM_WITHOUT_ONLINE_SAVE'], // a DSIM of another save
    ];
    for (const [inputs, rule] of cases) {
      const dest = `bad-${++n}`;
      const o = await merge(dest, inputs);
      expect({ inputs, o }).toMatchObject({ inputs, o: { type: 'CommandRejected', commandType: 'MergeRequested', rule } });
      expect(fs.existsSync(ds(dest))).toBe(false);
    }
    // a delta of another lineage (DSIDs reused after a restore: the case the seed cannot detect)
    const r = await DataSetReader.open(ds('d1'));
    const other = await DataSetWriter.create(ds('d1-other-lineage'), { ...r.header, dsid: { ...r.header.dsid, lineage: `${r.header.dsid.lineage}>1:0#9` } }, { fsync: false });
    for await (const b of r) await other.writeBlock(b.area, b.rabn, b.image);
    await r.close();
    await other.finish();
    const lin = await merge('bad-lineage', ['full', 'full.dsim', 'd1-other-lineage', 'd1.dsim']);
    expect(lin).toMatchObject({ type: 'CommandRejected', rule: expect.stringMatching(/LINEAGE|ONE_DSIM|DSIM/) });
    // an input of another database
    const w = await DataSetWriter.create(ds('other-db'), { ...(await readSaveHeader(ds('full'))), dbid: 2 }, { fsync: false });
    await w.finish();
    expect(await merge('bad-db', ['full', 'full.dsim', 'other-db'])).toMatchObject({ type: 'CommandRejected' });
    expect(fs.existsSync(ds('bad-db'))).toBe(false);
    // a corrupt data set: refused with its position, and nothing left under the destination name
    const bytes = fs.readFileSync(ds('d1'));
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(ds('d1-corrupt'), bytes);
    const bad = await merge('bad-corrupt', ['d1-corrupt', 'd1.dsim']);
    expect(bad).toMatchObject({ code: expect.stringMatching(/CORRUPT_DATA/) });
    expect(fs.existsSync(ds('bad-corrupt'))).toBe(false);
    expect(fs.existsSync(`${ds('bad-corrupt')}.partial`)).toBe(false);
  });

  it('a merge engine killed during a restore: reported interrupted, and resubmitted without the full save it ends byte-identical to an uninterrupted one', async () => {
    // a throttled engine (MERGE_ENGINE_MAX_BYTES_PER_SEC), so that the kill lands between the full save and the end
    await services.stop('merge-engine');
    await services.start('merge-engine', { env: { MERGE_ENGINE_MAX_BYTES_PER_SEC: '8MiB' } });
    const target = path.join(dataDir, 'restores', 'killed');
    junkTarget(target);
    const cid = `restore-killed-${++n}`;
    await pub.publish({ type: 'RestoreRequested', correlationId: cid, dbid: DBID, inputs: ['full', 'full.dsim', 'd1-2', 'd3', 'd3.snap'], target: 'killed' });
    await events.waitFor((m) => m.type === 'RestoreStarted' && m.correlationId === cid, 120_000);
    // killed once the full save is durable in the target (from then on the restore is restartable)
    const restartFile = path.join(target, 'restore-restart.json');
    while (!(fs.existsSync(restartFile) && JSON.parse(fs.readFileSync(restartFile, 'utf8')).applied >= 1)) await new Promise((r) => setTimeout(r, 5));
    await services.kill9('merge-engine');
    expect(events.messages.some((m) => m.type === 'RestoreCompleted' && m.correlationId === cid)).toBe(false);
    await services.start('merge-engine');
    const interrupted = await events.waitFor((m) => m.type === 'RestoreInterrupted' && m.correlationId === cid, 120_000);
    expect(interrupted).toMatchObject({ code: 'ENGINE_RESTARTED', target: 'killed' });
    // resubmitted WITH the full save it starts over; without it (and --resume) it continues
    const resumed = await restore('killed', ['full.dsim', 'd1-2', 'd3', 'd3.snap'], { resume: true });
    expect(resumed).toMatchObject({ type: 'RestoreCompleted', digest: nucleus.digestAt('d3.end')!.digest });
    expectSameFiles(target, 'd3.end');
  });

  it('a merge engine killed during a merge: the merge is reported failed and nothing is left under the destination name', async () => {
    await services.stop('merge-engine');
    await services.start('merge-engine', { env: { MERGE_ENGINE_MAX_BYTES_PER_SEC: '4MiB' } });
    const cid = `merge-killed-${++n}`;
    await pub.publish({ type: 'MergeRequested', correlationId: cid, dbid: DBID, inputs: ['full', 'full.dsim', 'd1-2', 'd3', 'd3.snap'], output: { kind: 'directory', name: 'killed-merge' } });
    await events.waitFor((m) => m.type === 'MergeStarted' && m.correlationId === cid, 120_000);
    // midway: its output is being written under a temporary name
    while (!fs.readdirSync(path.join(dataDir, 'datasets')).some((f) => f.startsWith('killed-merge') && f !== 'killed-merge')) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 500));
    await services.kill9('merge-engine');
    expect(events.messages.some((m) => m.type === 'MergeCompleted' && m.correlationId === cid)).toBe(false);
    expect(fs.existsSync(ds('killed-merge'))).toBe(false);
    await services.start('merge-engine');
    const failed = await events.waitFor((m) => m.type === 'CommandFailed' && m.correlationId === cid, 120_000);
    expect(failed).toMatchObject({ code: 'ENGINE_RESTARTED' });
    expect(fs.readdirSync(path.join(dataDir, 'datasets')).filter((f) => f.startsWith('killed-merge'))).toEqual([]);
    // the same destination works afterwards
    expect(await merge('killed-merge', ['full', 'full.dsim', 'd1-2', 'd3', 'd3.snap'])).toMatchObject({ type: 'MergeCompleted' });
  });

  it('shadow: init, two applies and REGENERATE equal the database at each point; a shadow changed between applies is refused', async () => {
    const sh = (type: 'ShadowInitRequested' | 'ShadowApplyRequested', inputs: string[]) =>
      send({ type, correlationId: `${type}-${++n}`, dbid: DBID, shadow: 'sh1', inputs });
    expect(await sh('ShadowInitRequested', ['full', 'full.dsim'])).toMatchObject({ type: 'RestoreCompleted', shadow: true, digest: nucleus.digestAt('full.end')!.digest });
    expect(await sh('ShadowApplyRequested', ['d1', 'd1.dsim'])).toMatchObject({ type: 'RestoreCompleted', digest: nucleus.digestAt('d1.end')!.digest });
    expect(await sh('ShadowApplyRequested', ['d2', 'd2.dsim'])).toMatchObject({ type: 'RestoreCompleted', digest: nucleus.digestAt('d2.end')!.digest });
    // REGENERATE: the PLOG since the shadow's LSN brings it to a later sync
    const at = await nucleus.sync(`regen-${++n}`);
    const g = await send({ type: 'ShadowRegenerateRequested', correlationId: `regen-${n}`, dbid: DBID, shadow: 'sh1', toLsn: at.lsn });
    expect(g).toMatchObject({ type: 'ShadowRegenerated', digest: at.digest });
    // an update outside Deltaflow: the next apply needs a full save again
    const shadowDir = path.join(dataDir, 'shadows', 'sh1');
    const t = BlockDatabase.open(shadowDir);
    t.writeBlock('DATA', 1, Buffer.alloc(4096, 7));
    t.close();
    expect(await sh('ShadowApplyRequested', ['d3', 'd3.snap'])).toMatchObject({ type: 'CommandRejected', rule: 'SHADOW_CHANGED' });
  });

  it('ADAULD: one file unloaded from full + deltas + DSIMs equals its blocks in the restored database', async () => {
    const o = await send({ type: 'FileUnloadRequested', correlationId: `unload-${++n}`, dbid: DBID, file: 2, out: 'file2', inputs: ['full', 'full.dsim', 'd1-2', 'd3', 'd3.snap'] });
    expect(o).toMatchObject({ type: 'FileUnloaded', file: 2 });
    const file = path.join(dataDir, 'unloads', 'file2');
    const header = await readUnloadHeader(file);
    const restored = BlockDatabase.open(path.join(dataDir, 'restores', 'from-full2'), { readOnly: true });
    const bytes = fs.readFileSync(file);
    let checked = 0;
    for (const s of header.sections) {
      for (let rabn = s.from; rabn <= s.to; rabn++) {
        const at = s.offset + (rabn - s.from) * restored.blockSize(s.area);
        expect(bytes.subarray(at, at + restored.blockSize(s.area)).equals(Buffer.from(restored.readBlock(s.area, rabn)))).toBe(true);
        checked++;
      }
    }
    restored.close();
    expect(checked).toBeGreaterThan(100);
  });
});
