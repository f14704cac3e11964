/**
 * `dsf` merge, restore, shadow, unload, dsim and report against the embedded broker, answered by
 * a stand-in responder (what the merge engine and DSIM builder will answer, published on the real
 * dsf.events) and a stand-in catalog over HTTP: the texts, the --json shapes and the exit codes
 * 0, 1 and 3, the progress bar, and discovery through an endpoints file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { formatDsid } from '@deltaflow/dsid';
import { testKafka, type TestKafka } from '@deltaflow/testing';
import { runCli, type CliIo } from '../../apps/cli/src/run';
import { StandInResponder, startStandInCatalog, type Answer, type DsfCommandMessage } from '../../apps/cli/src/testing/stand-in-engine';

jest.setTimeout(180_000);

const DBID = 9;
const dsid = (deltaFrom: number, deltaTo: number) => ({ full: 1, deltaFrom, deltaTo, timestamp: Date.UTC(2026, 10, 22, 23, 10), lineage: 'A' });
const MERGED = dsid(1, 2);
const DIGEST = 'a1d84ef1f01e31a5'.repeat(4);
const MiB = 1048576;

/** What the engine would answer, by command and input name. */
function script(c: DsfCommandMessage): Answer[] | undefined {
  const inputs = 'inputs' in c ? c.inputs : [];
  if (inputs.includes('silent')) return undefined;
  if (inputs.includes('gap'))
    return [{ type: 'CommandRejected', commandType: c.type, code: 'MERGE_INPUT_INVALID', rule: 'CONTINUOUS_SEQUENCE', input: 'gap', reason: 'delta 4 does not follow delta 2' }];
  if (inputs.includes('corrupt')) return [{ type: 'CommandFailed', commandType: c.type, code: 'CORRUPT_INPUT', reason: 'block record 12 of corrupt: CRC mismatch' }];
  switch (c.type) {
    case 'MergeRequested':
      return [
        { type: 'MergeStarted', dsid: MERGED, kind: c.full ? 'full' : 'delta', inputs: c.inputs },
        { type: 'OperationProgress', bytesDone: 1 * MiB, bytesTotal: 4 * MiB },
        { type: 'OperationProgress', bytesDone: 4 * MiB, bytesTotal: 4 * MiB },
        {
          type: 'MergeCompleted',
          dsid: MERGED,
          kind: c.full ? 'full' : 'delta',
          inputs: c.inputs,
          location: c.output,
          blocks: 1024,
          bytes: 4 * MiB,
          digest: DIGEST,
          ...(c.inputs.includes('@dsim') ? { releasedDsid: dsid(2, 2) } : {}),
        } as Answer,
      ];
    case 'RestoreRequested':
      if (c.inputs.includes('broken-tape'))
        return [
          { type: 'RestoreStarted', target: c.target, inputs: c.inputs, shadow: false },
          { type: 'RestoreInterrupted', target: c.target, code: 'IO_ERROR', reason: 'read error on broken-tape', resumeFrom: 1 },
        ];
      return [
        { type: 'RestoreStarted', target: c.target, inputs: c.inputs, shadow: false, ...(c.resume ? { resume: true } : {}) },
        { type: 'OperationProgress', bytesDone: 2 * MiB },
        { type: 'RestoreCompleted', target: c.target, dsid: MERGED, blocks: 878, digest: DIGEST, ...(c.intoDatabase ? { intoDatabase: true, lineage: 'A.1' } : {}) },
      ];
    case 'ShadowInitRequested':
    case 'ShadowApplyRequested':
      return [
        { type: 'RestoreStarted', target: c.shadow, inputs: c.inputs, shadow: true },
        { type: 'RestoreCompleted', target: c.shadow, dsid: MERGED, shadow: true, blocks: 214, digest: DIGEST },
      ];
    case 'ShadowRegenerateRequested':
      return [{ type: 'ShadowRegenerated', shadow: c.shadow, fromLsn: 100, toLsn: c.toLsn ?? 250, blocks: 17, digest: DIGEST }];
    case 'FileUnloadRequested':
      return [{ type: 'FileUnloaded', file: c.file, dsid: MERGED, location: { kind: 'directory', name: c.out }, blocks: 64, bytes: 64 * 4096 }];
    case 'DsimUnloadRequested':
      // DSIMWAIT: not complete for the first two attempts
      if (!/\.3$/.test(c.correlationId)) return [{ type: 'CommandRejected', commandType: c.type, code: 'DSIM_NOT_COMPLETE', reason: 'the save has not reached its end sync' }];
      return [{ type: 'DsimUnloaded', dsid: dsid(2, 2), location: { kind: 'directory', name: c.destination.kind === 'directory' ? c.destination.name : 'unused' }, blocks: 31, digest: DIGEST }];
    case 'DsimResetRequested':
      return c.force ? [{ type: 'DsimReset', dsid: dsid(2, 2) }] : [{ type: 'CommandRejected', commandType: c.type, code: 'DSIM_IN_USE', reason: 'its save still needs it; --force resets it anyway' }];
    default:
      return undefined;
  }
}

const REPORT = {
  dbid: DBID,
  asOf: Date.UTC(2026, 10, 22, 23, 30),
  dlog: { blocks: { ASSO: 12, DATA: 202 }, ranges: 9, lastSyncLsn: 4711, marks: [{ file: 12, parts: ['INDEX'], extents: [{ part: 'DATA', from: 100, to: 180 }] }] },
  dsim: { status: 'complete', dsid: formatDsid(dsid(2, 2)), startLsn: 4000, endLsn: 4100, blocks: 31 },
  saves: [
    { dbid: DBID, dsid: formatDsid(dsid(0, 0)), origin: 'save', kind: 'full', online: true, status: 'completed', blocks: 878, path: 'mon-full' },
    { dbid: DBID, dsid: formatDsid(dsid(1, 1)), origin: 'save', kind: 'delta', online: true, status: 'completed', blocks: 214, path: 'tue' },
  ],
  merges: [{ dsid: formatDsid(MERGED), kind: 'delta', inputs: ['tue', 'wed'], path: 'cons', blocks: 300, completedAt: Date.UTC(2026, 10, 22, 23, 20) }],
  restores: [{ target: 'r1', dsid: formatDsid(MERGED), blocks: 878, digest: DIGEST, completedAt: Date.UTC(2026, 10, 22, 23, 25) }],
};

let kafka: TestKafka;
let responder: StandInResponder;
let catalog: Awaited<ReturnType<typeof startStandInCatalog>>;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  kafka = await testKafka();
  responder = await new StandInResponder(kafka.brokers, script).start();
  catalog = await startStandInCatalog({
    [`/report?dbid=${DBID}`]: [200, REPORT],
    [`/saves?dbid=${DBID}`]: [200, REPORT.saves],
    '/report?dbid=500': [500, { message: 'database unavailable' }],
  });
  env = { KAFKA_BROKERS: kafka.brokers.join(','), CATALOG_URL: catalog.url };
});

afterAll(async () => {
  await responder?.stop();
  await catalog?.close();
  await kafka?.stop();
});

async function dsf(argv: string[], more: Partial<CliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env, out: (l) => out.push(l), err: (l) => err.push(l), ...more });
  return { code, out, err, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** The one JSON object of a --json run (fails if stdout holds anything else). */
function jsonOf(r: { out: string[] }) {
  expect(r.out).toHaveLength(1);
  return JSON.parse(r.out[0]);
}

const sentWith = (correlationId: string) => responder.received.find((c) => c.correlationId === correlationId);

describe('dsf merge', () => {
  it('merges: the outcome in text (exit 0), progress on the way, and exactly what was sent', async () => {
    const r = await dsf(['merge', '--dbid', String(DBID), '--dest', 'cons', '--id', 'merge-1', 'tue', 'tue.dsim', 'wed', '@dsim']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/MergeRequested sent \(merge-1\)/);
    expect(r.stdout).toMatch(/merge started: DSID 1\/1-2\/.* \(delta\) from 4 inputs: tue tue.dsim wed @dsim/);
    expect(r.stdout).toMatch(/ {2}1\.0 MiB of 4\.0 MiB/);
    expect(r.stdout).toMatch(/merge completed: DSID 1\/1-2\/\S+ \(delta\), 1024 blocks, 4194304 bytes in cons/);
    expect(r.stdout).toMatch(/the original DSIM of 1\/2\/\S+ was merged and is free/);
    expect(sentWith('merge-1')).toEqual({ type: 'MergeRequested', correlationId: 'merge-1', dbid: DBID, inputs: ['tue', 'tue.dsim', 'wed', '@dsim'], output: { kind: 'directory', name: 'cons' } });
  });

  it('--json: one object with the DSID in its text form; progress only on stderr', async () => {
    const r = await dsf(['merge', '--dbid', String(DBID), '--dest', 'new-full', '--full', '--dsim-wait', '30', '--json', '--id', 'merge-2', 'mon-full', 'tue', 'wed']);
    expect(r.code).toBe(0);
    expect(jsonOf(r)).toEqual({
      ok: true,
      command: 'merge',
      correlationId: 'merge-2',
      event: 'MergeCompleted',
      dbid: DBID,
      dsid: formatDsid(MERGED),
      kind: 'full',
      inputs: ['mon-full', 'tue', 'wed'],
      location: { kind: 'directory', name: 'new-full' },
      blocks: 1024,
      bytes: 4 * MiB,
      digest: DIGEST,
    });
    expect(r.stderr).toMatch(/merge started/);
    expect(sentWith('merge-2')).toMatchObject({ full: true, dsimWaitSec: 30 });
  });

  it('rejected by a DSID rule: exit 1 with the rule; --json has rule and code', async () => {
    const [text, json] = await Promise.all([
      dsf(['merge', '--dbid', String(DBID), '--dest', 'x', 'tue', 'gap']),
      dsf(['merge', '--dbid', String(DBID), '--dest', 'x', '--json', '--id', 'merge-3', 'tue', 'gap']),
    ]);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^dsf: merge rejected: CONTINUOUS_SEQUENCE: delta 4 does not follow delta 2 \(input gap, code MERGE_INPUT_INVALID\)/m);
    expect(text.stdout).not.toMatch(/rejected/);
    expect(json.code).toBe(1);
    expect(jsonOf(json)).toEqual({
      ok: false,
      command: 'merge',
      correlationId: 'merge-3',
      event: 'CommandRejected',
      dbid: DBID,
      code: 'MERGE_INPUT_INVALID',
      rule: 'CONTINUOUS_SEQUENCE',
      reason: 'delta 4 does not follow delta 2',
      input: 'gap',
    });
  });

  it('no outcome in time: exit 3 (text and --json)', async () => {
    const [text, json] = await Promise.all([
      dsf(['merge', '--dbid', String(DBID), '--dest', 'x', '--timeout', '2', 'silent']),
      dsf(['merge', '--dbid', String(DBID), '--dest', 'x', '--timeout', '2', '--json', '--id', 'merge-4', 'silent']),
    ]);
    expect(text.code).toBe(3);
    expect(text.stderr).toMatch(/dsf: no outcome within 2 s \(is the merge engine running\?\)/);
    expect(json.code).toBe(3);
    expect(jsonOf(json)).toEqual({ ok: false, command: 'merge', correlationId: 'merge-4', code: 'NO_OUTCOME', error: 'no outcome within 2 s', timeoutSec: 2 });
  });

  it('on a terminal: a progress bar', async () => {
    let drawn = '';
    const terminal = { isTTY: true, columns: 100, write: (s: string) => ((drawn += s), true) };
    const r = await dsf(['merge', '--dbid', String(DBID), '--dest', 'cons2', 'tue', 'wed'], { terminal });
    expect(r.code).toBe(0);
    expect(drawn).toMatch(/100% 4\.0 MiB of 4\.0 MiB/);
    expect(r.stdout).not.toMatch(/MiB of/); // the bar replaced the progress lines
    expect(r.stdout).toMatch(/merge completed/);
  });
});

describe('dsf restore, shadow, unload', () => {
  it('restore: --json with the restored database\'s digest; the scope as sent', async () => {
    const r = await dsf(['restore', '--dbid', String(DBID), '--target', 'r1', '--files', '3,12', '--json', '--id', 'restore-1', 'mon-full', 'tue', 'tue.dsim']);
    expect(r.code).toBe(0);
    expect(jsonOf(r)).toEqual({ ok: true, command: 'restore', correlationId: 'restore-1', event: 'RestoreCompleted', dbid: DBID, target: 'r1', dsid: formatDsid(MERGED), shadow: false, blocks: 878, digest: DIGEST });
    expect(sentWith('restore-1')).toEqual({ type: 'RestoreRequested', correlationId: 'restore-1', dbid: DBID, target: 'r1', inputs: ['mon-full', 'tue', 'tue.dsim'], scope: { kind: 'files', files: [3, 12] } });
  });

  it('restore into the database: text; interrupted: exit 1 with how to resume; failed: exit 1', async () => {
    const [into, broken, failed] = await Promise.all([
      dsf(['restore', '--dbid', String(DBID), '--target', 'db', '--into-database', '--resume', 'tue', 'wed']),
      dsf(['restore', '--dbid', String(DBID), '--target', 'r2', '--json', '--id', 'restore-3', 'mon-full', 'broken-tape']),
      dsf(['restore', '--dbid', String(DBID), '--target', 'r3', 'mon-full', 'corrupt']),
    ]);
    expect(into.code).toBe(0);
    expect(into.stdout).toMatch(/restore into db started from 2 inputs \(resuming\)/);
    expect(into.stdout).toMatch(new RegExp(`restore completed: DSID 1/1-2/\\S+ into database ${DBID}: 878 blocks, digest ${DIGEST}; the database continues on lineage A\\.1`));
    expect(broken.code).toBe(1);
    expect(jsonOf(broken)).toMatchObject({ ok: false, command: 'restore', correlationId: 'restore-3', event: 'RestoreInterrupted', code: 'IO_ERROR', resumeFrom: 1, target: 'r2' });
    expect(broken.stderr).toMatch(/dsf: restore interrupted: IO_ERROR: read error on broken-tape\n {2}the same command with --resume .* from input #2/);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/dsf: restore failed: CORRUPT_INPUT: block record 12 of corrupt: CRC mismatch/);
  });

  it('shadow init, apply (--json with the digest) and regenerate', async () => {
    const init = await dsf(['shadow', 'init', '--dbid', String(DBID), '--shadow', 'sh1', 'mon-full', 'tue']);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(new RegExp(`shadow sh1 at DSID 1/1-2/\\S+: 214 blocks, digest ${DIGEST}`));
    const [apply, regen] = await Promise.all([
      dsf(['shadow', 'apply', '--shadow', 'sh1', '--dbid', String(DBID), '--json', '--id', 'shadow-2', 'wed', 'wed.dsim']),
      dsf(['shadow', 'regenerate', '--shadow', 'sh1', '--dbid', String(DBID), '--to-lsn', '300', '--json', '--id', 'shadow-3']),
    ]);
    expect(apply.code).toBe(0);
    expect(jsonOf(apply)).toEqual({ ok: true, command: 'shadow apply', correlationId: 'shadow-2', event: 'RestoreCompleted', dbid: DBID, target: 'sh1', dsid: formatDsid(MERGED), shadow: true, blocks: 214, digest: DIGEST });
    expect(sentWith('shadow-2')).toEqual({ type: 'ShadowApplyRequested', correlationId: 'shadow-2', dbid: DBID, shadow: 'sh1', inputs: ['wed', 'wed.dsim'] });
    expect(regen.code).toBe(0);
    expect(jsonOf(regen)).toEqual({ ok: true, command: 'shadow regenerate', correlationId: 'shadow-3', event: 'ShadowRegenerated', dbid: DBID, shadow: 'sh1', fromLsn: 100, toLsn: 300, blocks: 17, digest: DIGEST });
  });

  it('unload: one file as of the inputs', async () => {
    const [text, json] = await Promise.all([
      dsf(['unload', '--dbid', String(DBID), '--file', '12', '--out', 'file12', 'mon-full', 'tue', '@dsim']),
      dsf(['unload', '--dbid', String(DBID), '--file', '12', '--out', 'file12b', '--json', '--id', 'unload-2', 'mon-full']),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/file 12 unloaded as of DSID 1\/1-2\/\S+: 64 blocks, 262144 bytes in file12/);
    expect(jsonOf(json)).toEqual({ ok: true, command: 'unload', correlationId: 'unload-2', event: 'FileUnloaded', dbid: DBID, file: 12, dsid: formatDsid(MERGED), location: { kind: 'directory', name: 'file12b' }, blocks: 64, bytes: 262144 });
  });
});

describe('dsf dsim', () => {
  it('unload --wait asks again as ID.2, ID.3 while the DSIM is not complete', async () => {
    const r = await dsf(['dsim', 'unload', '--dbid', String(DBID), '--wait', '--dest', 'w.dsim', '--id', 'wait-1', '--json']);
    expect(r.code).toBe(0);
    expect(jsonOf(r)).toMatchObject({ ok: true, command: 'dsim unload', correlationId: 'wait-1.3', event: 'DsimUnloaded', blocks: 31 });
    expect(responder.received.filter((c) => c.correlationId.startsWith('wait-1')).map((c) => c.correlationId)).toEqual(['wait-1', 'wait-1.2', 'wait-1.3']);
    expect(r.stderr).toMatch(/the DSIM is not complete yet/);
  });

  it('unload without --wait: the refusal, exit 1; reset refused, then --force', async () => {
    const [unload, reset, forced, print] = await Promise.all([
      dsf(['dsim', 'unload', '--dbid', String(DBID), '--dest', 'w2.dsim', '--id', 'nowait-1']),
      dsf(['dsim', 'reset', '--dbid', String(DBID)]),
      dsf(['dsim', 'reset', '--dbid', String(DBID), '--force', '--json', '--id', 'reset-2']),
      dsf(['dsim', 'print', '--dbid', String(DBID), '--blocks', 'DATA:7', '--json', '--id', 'print-1']),
    ]);
    expect(unload.code).toBe(1);
    expect(unload.stderr).toMatch(/dsf: dsim unload rejected: DSIM_NOT_COMPLETE: the save has not reached its end sync/);
    expect(responder.received.filter((c) => c.correlationId.startsWith('nowait-1'))).toHaveLength(1);
    expect(reset.code).toBe(1);
    expect(reset.stderr).toMatch(/dsim reset rejected: DSIM_IN_USE/);
    expect(forced.code).toBe(0);
    expect(jsonOf(forced)).toEqual({ ok: true, command: 'dsim reset', correlationId: 'reset-2', event: 'DsimReset', dbid: DBID, dsid: formatDsid(dsid(2, 2)) });
    expect(sentWith('reset-2')).toMatchObject({ type: 'DsimResetRequested', force: true });
    expect(print.code).toBe(0);
    expect(jsonOf(print)).toEqual({ ok: true, command: 'dsim print', correlationId: 'print-1', sent: 'DsimPrintRequested', dbid: DBID });
  });
});

describe('dsf report and saves list (the catalog)', () => {
  it('report: readable text', async () => {
    const r = await dsf(['report', '--dbid', String(DBID)]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe(`database ${DBID} (as of 2026-11-22T23:30:00.000Z)`);
    expect(r.stdout).toMatch(/DLOG: 214 blocks changed since the last save \(ASSO 12, DATA 202\) in 9 ranges; last sync LSN 4711/);
    expect(r.stdout).toMatch(/file 12 marked by a utility: all INDEX, DATA 100-180/);
    expect(r.stdout).toMatch(/DSIM: complete for 1\/2\/\S+, LSN 4000\.\.4100, 31 blocks/);
    expect(r.stdout).toMatch(/saves \(2\):\n {2}DSID +KIND +ONLINE +STATUS +BLOCKS +PATH \/ REASON\n {2}1\/0\/\S+ +full +online +completed +878 +mon-full/);
    expect(r.stdout).toMatch(/merges \(1\):[\s\S]*cons +tue wed/);
    expect(r.stdout).toMatch(new RegExp(`restores \\(1\\):[\\s\\S]*r1 +1/1-2/\\S+ +restores/ +878 +2026-11-22T23:25:00.000Z +${DIGEST}`));
  });

  it('report --json: the catalog\'s object, with ok', async () => {
    const r = await dsf(['report', '--dbid', String(DBID), '--json']);
    expect(r.code).toBe(0);
    expect(jsonOf(r)).toEqual({ ok: true, command: 'report', ...REPORT });
  });

  it('saves list: text and --json', async () => {
    const [text, json] = await Promise.all([dsf(['saves', 'list', '--dbid', String(DBID)]), dsf(['saves', 'list', '--dbid', String(DBID), '--json'])]);
    expect(text.code).toBe(0);
    expect(text.out[1]).toMatch(/^1\/0\/\S+\tfull\tonline\tcompleted\t878\tmon-full$/);
    expect(jsonOf(json)).toEqual({ ok: true, command: 'saves list', dbid: DBID, saves: REPORT.saves });
  });

  it('a refused query exits 1, a failing or absent catalog 3', async () => {
    const [missing, failing, absent] = await Promise.all([
      dsf(['report', '--dbid', '404', '--json']),
      dsf(['report', '--dbid', '500']),
      runAgainst({ ...env, CATALOG_URL: 'http://127.0.0.1:1' }, ['report', '--dbid', String(DBID), '--json']),
    ]);
    expect(missing.code).toBe(1);
    expect(jsonOf(missing)).toMatchObject({ ok: false, code: 'HTTP_404', error: expect.stringMatching(/this catalog does not serve \/report yet/) });
    expect(failing.code).toBe(3);
    expect(failing.stderr).toMatch(/dsf: the catalog answered 500 to GET \/report\?dbid=500: .*database unavailable/);
    expect(absent.code).toBe(3);
    expect(jsonOf(absent)).toMatchObject({ ok: false, code: 'INFRASTRUCTURE', error: expect.stringMatching(/^the catalog at http:\/\/127\.0\.0\.1:1\/report\?dbid=9 did not answer: /) });
  });
});

async function runAgainst(e: NodeJS.ProcessEnv, argv: string[], more: Partial<CliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { env: e, out: (l) => out.push(l), err: (l) => err.push(l), ...more });
  return { code, out, err, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('discovery: the system that npm start runs from the same home', () => {
  let home: string;
  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'dsf-home-'));
    fs.mkdirSync(path.join(home, 'run'));
  });
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
  const endpoints = (pid: number) =>
    fs.writeFileSync(path.join(home, 'run', 'endpoints.json'), JSON.stringify({ kafkaBrokers: kafka.brokers, catalogUrl: catalog.url, pid, startedAt: new Date().toISOString() }), { mode: 0o600 });

  it('without KAFKA_BROKERS and CATALOG_URL, dsf uses $DELTAFLOW_HOME/run/endpoints.json', async () => {
    endpoints(process.pid); // this process stands for the launcher
    const [merge, report] = await Promise.all([
      runAgainst({ DELTAFLOW_HOME: home }, ['merge', '--dbid', String(DBID), '--dest', 'found', '--json', '--id', 'found-1', 'tue']),
      runAgainst({ DELTAFLOW_HOME: 'dsf-relative-home' }, ['report', '--dbid', String(DBID), '--json'], { cwd: path.dirname(home) }),
    ]);
    expect(merge.code).toBe(0);
    expect(jsonOf(merge)).toMatchObject({ ok: true, correlationId: 'found-1', event: 'MergeCompleted' });
    // a relative DELTAFLOW_HOME that holds no file: the message says where it looked
    expect(report.code).toBe(3);
    expect(report.stderr).toContain(`no ${path.join(path.dirname(home), 'dsf-relative-home', 'run', 'endpoints.json')}`);
    const viaFile = await runAgainst({ DELTAFLOW_HOME: path.basename(home) }, ['report', '--dbid', String(DBID), '--json'], { cwd: path.dirname(home) });
    expect(viaFile.code).toBe(0);
    expect(jsonOf(viaFile)).toMatchObject({ ok: true, dbid: DBID });
  });

  it('a file whose launcher is gone is ignored, with a clear message, exit 3', async () => {
    const gone = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    endpoints(gone);
    const r = await runAgainst({ DELTAFLOW_HOME: home }, ['merge', '--dbid', String(DBID), '--dest', 'x', '--json', 'tue']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`dsf: ignoring .*endpoints.json is stale: the launcher that wrote it \\(pid ${gone}, started .*\\) is gone`));
    expect(jsonOf(r)).toMatchObject({ ok: false, code: 'INFRASTRUCTURE', error: expect.stringMatching(/^KAFKA_BROKERS is not set and no running Deltaflow was found: .* is stale/) });
  });
});
