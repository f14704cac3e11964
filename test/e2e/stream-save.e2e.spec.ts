/**
 * Saves to a stream and restores from it, on real processes: the change logger, DSIM builder, save
 * writer, merge engine, stream multiplexer and catalog as their own OS processes on the embedded
 * broker and PostgreSQL, the reference nucleus writing its database. A full and a delta save go to
 * stream S1 as client files (SaveCompleted names the stream and the client file; nothing is left in
 * the data set directory or the staging folder); the merge engine reads them back by the catalog's
 * placements (`stream:S1/NAME`) and the restored chain is byte-identical to the nucleus's copy of
 * its files at the delta's end sync; a merge of the chain writes its new full save to the stream too,
 * and so does a DSIM unload.
 * An unknown stream fails the save with the multiplexer's reason.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MessageOfType } from '@deltaflow/contracts';
import { HEADER_LENGTH } from '@deltaflow/tape';
import { freePort, TopicCollector } from '@deltaflow/testing';
import { runCli } from '../../apps/cli/src/run';
import { startDeltaSaveSystem, type DeltaSaveSystem } from './support/delta-save-system';

jest.setTimeout(600_000);

const DBID = 1;
let sys: DeltaSaveSystem;
let dataDir: string;
let sovEvents: TopicCollector;
let cliEnv: Record<string, string>;
async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env: cliEnv, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n'), json: () => JSON.parse(out.join('\n')) };
}

const toStream = (kind: 'full' | 'delta', name: string, stream = 'S1') =>
  sys.dsf.send({ type: 'SaveRequested', correlationId: name, dbid: DBID, kind, online: true, destination: { kind: 'stream', stream, name } });

beforeAll(async () => {
  const catalogPort = await freePort();
  const catalogUrl = `http://127.0.0.1:${catalogPort}`;
  sys = await startDeltaSaveSystem({
    name: 'stream-save-e2e',
    dbid: DBID,
    dbMib: 16,
    services: ['change-logger', 'dsim-builder', 'save-writer', 'merge-engine', 'stream-multiplexer', 'catalog'],
    env: { CATALOG_HTTP_PORT: String(catalogPort), CATALOG_URL: catalogUrl },
  });
  dataDir = sys.dataDir;
  cliEnv = { KAFKA_BROKERS: sys.kafka.brokers.join(','), CATALOG_URL: catalogUrl, DELTAFLOW_HOME: path.join(sys.root, 'no-home') };
  sovEvents = await new TopicCollector(sys.kafka.brokers, 'sov.events').start();
  await sys.pub.publish({ type: 'StreamDefine', stream: 'S1' });
  await sovEvents.waitFor((e) => e.type === 'DeviceAdded' && 'stream' in e && e.stream === 'S1', 60_000, 'stream S1 with a device');
});

afterAll(async () => {
  await sovEvents?.stop();
  await sys?.stop();
});

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.log(sys.services.tail(150));
});

describe('saves to a stream, restored from it', () => {
  it('a full and a delta save go to stream S1 as client files; the merge engine restores the chain from the stream, byte-identical to the nucleus at the delta end', async () => {
    const full = (await toStream('full', 'sf-full')) as MessageOfType<'SaveCompleted'>;
    expect(full).toMatchObject({ type: 'SaveCompleted', location: { kind: 'stream', stream: 'S1', clientFile: 'sf-full' } });
    expect(await sys.dsf.dsim(DBID, 'DsimUnloadRequested', 'sf-full.dsim')).toMatchObject({ type: 'DsimUnloaded' });
    const delta = (await toStream('delta', 'sf-d1')) as MessageOfType<'SaveCompleted'>;
    expect(delta).toMatchObject({ type: 'SaveCompleted', location: { kind: 'stream', stream: 'S1', clientFile: 'sf-d1' } });
    expect(await sys.dsf.dsim(DBID, 'DsimUnloadRequested', 'sf-d1.dsim')).toMatchObject({ type: 'DsimUnloaded' });

    // the client files closed on a volume, with the bytes the save reported; nothing left behind locally
    const closed = sovEvents.messages.filter((e): e is MessageOfType<'ClientFileClosed'> => e.type === 'ClientFileClosed');
    expect(closed.map((c) => [c.clientFile, c.bytes])).toEqual(expect.arrayContaining([['sf-full', full.bytes], ['sf-d1', delta.bytes]]));
    expect(fs.existsSync(path.join(dataDir, 'datasets', 'sf-full'))).toBe(false);
    expect(fs.readdirSync(path.join(dataDir, 'staging'))).toEqual([]);

    // restore from the stream: full and delta read back by their placements (the DSIMs from the directory)
    const target = 'from-stream';
    const restored = await sys.dsf.restore(DBID, target, ['stream:S1/sf-full', 'sf-full.dsim', 'stream:S1/sf-d1', 'sf-d1.dsim']);
    expect(restored).toMatchObject({ type: 'RestoreCompleted' });
    for (const f of ['header.json', 'ASSO', 'DATA']) {
      const a = fs.readFileSync(path.join(dataDir, 'restores', target, f));
      const b = fs.readFileSync(path.join(sys.copyAt('sf-d1.end'), f));
      expect({ file: f, equal: a.equals(b) }).toEqual({ file: f, equal: true });
    }
    expect(fs.readdirSync(path.join(dataDir, 'staging'))).toEqual([]);
  });

  it('a merge writes its new full save to the stream; restored from there alone, it equals the nucleus at the delta end', async () => {
    const merged = await sys.dsf.send({
      type: 'MergeRequested',
      correlationId: 'merge-to-stream',
      dbid: DBID,
      inputs: ['stream:S1/sf-full', 'sf-full.dsim', 'stream:S1/sf-d1', 'sf-d1.dsim'],
      output: { kind: 'stream', stream: 'S1', name: 'sf-week' },
      full: true,
    });
    expect(merged).toMatchObject({ type: 'MergeCompleted', kind: 'full', location: { kind: 'stream', stream: 'S1', clientFile: 'sf-week' } });
    expect(fs.readdirSync(path.join(dataDir, 'staging'))).toEqual([]);
    expect(fs.existsSync(path.join(dataDir, 'datasets', 'sf-week'))).toBe(false);
    const restored = await sys.dsf.restore(DBID, 'from-merged-stream', ['stream:S1/sf-week']);
    expect(restored).toMatchObject({ type: 'RestoreCompleted' });
    for (const f of ['header.json', 'ASSO', 'DATA']) {
      const a = fs.readFileSync(path.join(dataDir, 'restores', 'from-merged-stream', f));
      const b = fs.readFileSync(path.join(sys.copyAt('sf-d1.end'), f));
      expect({ file: f, equal: a.equals(b) }).toEqual({ file: f, equal: true });
    }
  });

  it('a DSIM unloads to the stream too: the merged full save, a delta and its DSIM, all read back from the stream, restore to the nucleus at the delta end', async () => {
    expect(await toStream('delta', 'sf-d2')).toMatchObject({ type: 'SaveCompleted', location: { kind: 'stream', clientFile: 'sf-d2' } });
    let unloaded;
    for (let attempt = 1; ; attempt++) {
      unloaded = await sys.dsf.send({ type: 'DsimUnloadRequested', correlationId: `sf-d2-unload-${attempt}`, dbid: DBID, destination: { kind: 'stream', stream: 'S1', name: 'sf-d2.dsim' } });
      if (!(unloaded.type === 'CommandRejected' && unloaded.code === 'DSIM_NOT_COMPLETE')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(unloaded).toMatchObject({ type: 'DsimUnloaded', location: { kind: 'stream', stream: 'S1', clientFile: 'sf-d2.dsim' } });
    expect(fs.readdirSync(path.join(dataDir, 'staging'))).toEqual([]);
    const restored = await sys.dsf.restore(DBID, 'all-from-stream', ['stream:S1/sf-week', 'stream:S1/sf-d2', 'stream:S1/sf-d2.dsim']);
    expect(restored).toMatchObject({ type: 'RestoreCompleted' });
    for (const f of ['header.json', 'ASSO', 'DATA']) {
      const a = fs.readFileSync(path.join(dataDir, 'restores', 'all-from-stream', f));
      const b = fs.readFileSync(path.join(sys.copyAt('sf-d2.end'), f));
      expect({ file: f, equal: a.equals(b) }).toEqual({ file: f, equal: true });
    }
  });

  it('dsf: stream define and device add answered by the multiplexer; stream, client-file and volume lists and a catalog backup from the catalog', async () => {
    const defined = await cli('stream', 'define', 'S2', '--devices', '1..2', '--json');
    expect({ code: defined.code, err: defined.stderr }).toEqual({ code: 0, err: '' });
    expect(defined.json()).toMatchObject({ ok: true, command: 'stream define', result: expect.stringMatching(/^stream S2 defined: 1\.\.2 devices/) });
    const again = await cli('stream', 'define', 'S2', '--devices', '1..2');
    expect(again).toMatchObject({ code: 0, stdout: 'stream S2 is defined already with these settings: unchanged' });
    const added = await cli('stream', 'device', 'add', 'S2', 'D9');
    expect(added).toMatchObject({ code: 0, stdout: 'device D9 added to stream S2' });
    const bad = await cli('stream', 'define', 'S3', '--devices', '3..1');
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/--devices: expected MIN\.\.MAX/) });

    const streams = await cli('stream', 'list', '--json');
    expect(streams.code).toBe(0);
    expect(streams.json().streams.map((x: { stream: string }) => x.stream)).toEqual(expect.arrayContaining(['S1', 'S2']));
    const files = await cli('client-files', 'list', '--stream', 'S1');
    expect(files).toMatchObject({ code: 0, stdout: expect.stringMatching(/S1 +sf-full +closed/) });
    const volumes = await cli('volumes', 'list', '--json');
    expect(volumes.code).toBe(0);
    expect(volumes.json().volumes.length).toBeGreaterThan(0);
    const backup = await cli('catalog', 'backup', '--out', 'cat-1', '--json');
    expect({ code: backup.code, err: backup.stderr }).toEqual({ code: 0, err: '' });
    expect(backup.json()).toMatchObject({ ok: true, command: 'catalog backup' });
  });

  it('dsf volumes verify and client-files verify: a clean volume and file pass; a flipped byte is found and named by volser and position; the catalog keeps the outcomes', async () => {
    const run = sovEvents.messages.find((e): e is MessageOfType<'RunPlaced'> => e.type === 'RunPlaced' && e.clientFile === 'sf-full')!;
    const volser = run.volser;
    const clean = await cli('volumes', 'verify', volser, '--json');
    expect({ code: clean.code, err: clean.stderr }).toEqual({ code: 0, err: '' });
    expect(clean.json()).toMatchObject({ ok: true, command: 'volumes verify', volser, problems: [], trigger: 'operator' });
    expect(clean.json().runs).toBeGreaterThan(0);
    const file = await cli('client-files', 'verify', 'sf-full', '--stream', 'S1', '--json');
    expect({ code: file.code, err: file.stderr }).toEqual({ code: 0, err: '' });
    const close = sovEvents.messages.find((e): e is MessageOfType<'ClientFileClosed'> => e.type === 'ClientFileClosed' && e.clientFile === 'sf-full')!;
    expect(file.json()).toMatchObject({ ok: true, incarnation: close.incarnation, sha256: close.sha256, bytes: close.bytes });

    // one byte inside the first superblock of sf-full's first run
    const at = run.position + HEADER_LENGTH + 100;
    const flip = () => {
      const fd = fs.openSync(path.join(dataDir, 'tapes', `${volser}.vol`), 'r+');
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, at);
      b[0] ^= 0x10;
      fs.writeSync(fd, b, 0, 1, at);
      fs.closeSync(fd);
    };
    flip();
    try {
      const bad = await cli('volumes', 'verify', volser, '--json');
      expect(bad.code).toBe(1);
      expect(bad.json()).toMatchObject({ ok: false, volser });
      expect(bad.json().problems).toEqual(expect.arrayContaining([expect.objectContaining({ volser, position: run.position, kind: 'damage', reason: expect.stringMatching(new RegExp(`${volser}@${run.position}`)) })]));
      const text = await cli('volumes', 'verify', volser);
      expect(text).toMatchObject({ code: 1, stderr: expect.stringMatching(new RegExp(`volume ${volser} failed verification[\\s\\S]*${volser}@${run.position} damage`)) });
      const badFile = await cli('client-files', 'verify', 'sf-full', '--json');
      expect(badFile.code).toBe(1);
      expect(badFile.json()).toMatchObject({ ok: false, problems: [expect.objectContaining({ volser, position: run.position })] });
    } finally {
      flip();
    }
    // the catalog folded the outcomes: newest first, the failures with their positions
    let rows: Array<{ ok: boolean; problems: Array<{ position: number }> }> = [];
    for (let i = 0; i < 100 && rows.length < 3; i++) {
      rows = (await (await fetch(`${cliEnv.CATALOG_URL}/verifications?volser=${volser}`)).json()) as typeof rows;
      if (rows.length < 3) await new Promise((r) => setTimeout(r, 200));
    }
    expect(rows.map((r) => r.ok).slice(0, 3)).toEqual([false, false, true]);
    expect(rows[0].problems.map((p) => p.position)).toContain(run.position);
    const vols = await cli('volumes', 'list', '--json');
    expect(vols.json().volumes.find((v: { volser: string }) => v.volser === volser)).toMatchObject({ verified: { ok: false } });
    const unknown = await cli('volumes', 'verify', 'ZZ9999');
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringMatching(/no volume ZZ9999/) });
  });

  it('a save to a stream nobody defined fails with the reason, and a restore from a client file that does not exist is refused', async () => {
    const failed = await toStream('delta', 'sf-nowhere', 'NOWHERE');
    expect(failed).toMatchObject({ type: 'SaveFailed', reason: expect.stringMatching(/NOWHERE/) });
    expect(fs.readdirSync(path.join(dataDir, 'staging'))).toEqual([]);
    const refused = await sys.dsf.restore(DBID, 'nothing', ['stream:S1/no-such-file']);
    expect(refused).toMatchObject({ type: expect.stringMatching(/CommandRejected|RestoreInterrupted/), reason: expect.stringMatching(/no-such-file/) });
  });

  it('an offline full save goes straight into its client file (nothing staged) and restores to the stopped nucleus', async () => {
    await sys.nucleus.setActive(false);
    try {
      const staging = path.join(dataDir, 'staging');
      let stagedSeen = false;
      const watch = setInterval(() => {
        if (fs.existsSync(staging) && fs.readdirSync(staging).some((f) => f.startsWith('save-'))) stagedSeen = true;
      }, 5);
      const saved = await sys.dsf.send({ type: 'SaveRequested', correlationId: 'sf-offline', dbid: DBID, kind: 'full', online: false, destination: { kind: 'stream', stream: 'S1', name: 'sf-offline' } });
      clearInterval(watch);
      expect(saved).toMatchObject({ type: 'SaveCompleted', online: false, location: { kind: 'stream', stream: 'S1', clientFile: 'sf-offline' } });
      expect(stagedSeen).toBe(false);
      expect(sys.services.tail(400)).toMatch(/client file sf-offline closed on stream S1 \(\d+ superblocks on [^,)]+\)/);
      const closed = (await sovEvents.waitFor((e) => e.type === 'ClientFileClosed' && e.clientFile === 'sf-offline', 30_000, 'sf-offline closed')) as MessageOfType<'ClientFileClosed'>;
      expect(closed.bytes).toBe((saved as MessageOfType<'SaveCompleted'>).bytes);
      expect(await sys.dsf.restore(DBID, 'offline-from-stream', ['stream:S1/sf-offline'])).toMatchObject({ type: 'RestoreCompleted' });
      for (const f of ['ASSO', 'DATA']) {
        const a = fs.readFileSync(path.join(dataDir, 'restores', 'offline-from-stream', f));
        const b = fs.readFileSync(path.join(sys.nucleus.databaseDir, f));
        expect({ file: f, equal: a.equals(b) }).toEqual({ file: f, equal: true });
      }
    } finally {
      await sys.nucleus.setActive(true);
    }
  });
});
