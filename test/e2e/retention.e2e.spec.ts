/**
 * The data set retention on real processes (issue 13, "Files"): the change logger, DSIM builder,
 * save writer, merge engine and catalog as OS processes against the embedded broker and
 * PostgreSQL while the reference nucleus writes. Two chains (full + delta, each with its unloaded
 * DSIM); `dsf retention set --keep-saves 1` then `dsf expire`: the first chain's data sets are
 * deleted by the save writer, the second's full save stays (its delta needs it), the catalog shows
 * the first chain expired with the reason, the DSIM builder's rows of those saves are gone, a
 * restore from them is refused (DATA_SET_EXPIRED), expiring again is harmless, and `dsf report`
 * shows what each retention keeps. The catalog, restarted with DSF_EXPIRE_INTERVAL_MS, expires
 * the second chain by itself once a third full save is taken. Then the save writer, restarted with a free-space threshold
 * above the real free space, refuses a save before writing anything (DISK_NEARLY_FULL).
 */
import * as fs from 'node:fs';
import { freePort } from '@deltaflow/testing';
import * as path from 'node:path';
import type { MessageOfType } from '@deltaflow/contracts';
import { parseDsid } from '@deltaflow/dsid';
import { Client } from 'pg';
import { runCli } from '../../apps/cli/src/run';
import { startDeltaSaveSystem, type DeltaSaveSystem } from './support/delta-save-system';

jest.setTimeout(180_000);

const DBID = 1;
let sys: DeltaSaveSystem;
let catalogUrl: string;


beforeAll(async () => {
  const port = await freePort();
  catalogUrl = `http://127.0.0.1:${port}`;
  sys = await startDeltaSaveSystem({
    name: 'retention-e2e',
    dbid: DBID,
    dbMib: 2,
    services: ['change-logger', 'dsim-builder', 'save-writer', 'merge-engine', 'catalog'],
    env: { CATALOG_HTTP_PORT: String(port) },
  });
});

afterAll(async () => {
  await sys?.stop();
});

async function dsf(...argv: string[]): Promise<{ code: number; json: Record<string, any> }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...argv, '--json'], { env: { KAFKA_BROKERS: sys.kafka.brokers.join(','), CATALOG_URL: catalogUrl }, out: (l) => out.push(l), err: (l) => err.push(l) });
  const line = [...out, ...err].find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`dsf ${argv.join(' ')}: no JSON (exit ${code}): ${[...out, ...err].join(' | ')}`);
  return { code, json: JSON.parse(line) };
}

async function get(p: string): Promise<any> {
  const r = await fetch(`${catalogUrl}${p}`);
  if (!r.ok) throw new Error(`GET ${p}: ${r.status} ${await r.text()}`);
  return r.json();
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const dataSet = (name: string) => path.join(sys.dataDir, 'datasets', name);

it('expires whole chains outside the retention, keeps what a kept save needs, and the catalog shows it', async () => {
  try {
    for (const [kind, name] of [['full', 'f1'], ['delta', 'd1'], ['full', 'f2'], ['delta', 'd2']] as const) {
      expect(await sys.dsf.save(DBID, kind, name)).toMatchObject({ type: 'SaveCompleted' });
      expect(await sys.dsf.dsim(DBID, 'DsimUnloadRequested', `${name}.dsim`)).toMatchObject({ type: 'DsimUnloaded' });
    }
    expect(await dsf('retention', 'set', '--dbid', String(DBID), '--keep-saves', '0')).toMatchObject({ code: 2 });
    expect(await dsf('retention', 'set', '--dbid', String(DBID), '--keep-saves', '1')).toMatchObject({ code: 0, json: { event: 'RetentionSet', keepSaves: 1 } });
    const [view] = await until('the retention in the catalog', async () => {
      const v = await get(`/retention?dbid=${DBID}`);
      return v[0]?.source === 'set' && v[0].keep.length + v[0].expire.length === 4 ? v : undefined;
    });
    expect(view.rule).toBe('the last 1 save');
    expect(view.expire.map((e: { correlationId: string }) => e.correlationId).sort()).toEqual(['d1', 'f1']);
    expect(view.expire.find((e: { correlationId: string }) => e.correlationId === 'd1').names).toEqual(['d1', 'd1.dsim']);
    const why = Object.fromEntries(view.keep.map((k: { correlationId: string; why: string }) => [k.correlationId, k.why]));
    expect(why).toEqual({ d2: 'the last save', f2: expect.stringMatching(/^needed by the chain of 2\/1\/.*\(d2\)$/) });

    const expired = await dsf('expire');
    expect(expired.code).toBe(0);
    expect(expired.json.dataSets.databases[0]).toMatchObject({ dbid: DBID, kept: 2 });
    for (const s of ['f1', 'd1']) await sys.events.waitFor((m) => m.type === 'DataSetExpired' && m.save === s, 30_000, `DataSetExpired of ${s}`);

    // the files: the first chain gone with its DSIMs, the second whole
    for (const n of ['f1', 'f1.dsim', 'd1', 'd1.dsim']) expect({ n, exists: fs.existsSync(dataSet(n)) }).toEqual({ n, exists: false });
    for (const n of ['f2', 'f2.dsim', 'd2', 'd2.dsim']) expect({ n, exists: fs.existsSync(dataSet(n)) }).toEqual({ n, exists: true });

    // the catalog: the saves shown expired with the reason, auditors see it
    const saves = await until('the saves shown expired', async () => {
      const v: Array<{ correlationId: string; dsid: string; expiredAt?: number; expiryReason?: string }> = await get(`/saves?dbid=${DBID}`);
      return v.filter((s) => s.expiredAt !== undefined).length === 2 ? v : undefined;
    });
    const byId = Object.fromEntries(saves.map((s) => [s.correlationId, s]));
    expect(byId.f1).toMatchObject({ status: 'completed', expiryReason: expect.stringMatching(/outside the retention \(the last 1 save\)/) });
    expect(byId.f2.expiredAt).toBeUndefined();
    const list = await dsf('saves', 'list', '--dbid', String(DBID));
    expect(list.json.saves.filter((s: { expiredAt?: number }) => s.expiredAt).length).toBe(2);

    // the DSIM builder's rows of the expired saves
    const pg = new Client({ connectionString: sys.db.url });
    await pg.connect();
    try {
      await until('the DSIM builder forgetting the expired saves', async () => {
        const r = await pg.query(`SELECT correlation_id FROM completed_save WHERE dbid = $1 ORDER BY 1`, [DBID]);
        const ids = r.rows.map((x: { correlation_id: string }) => x.correlation_id);
        return ids.includes('f1') || ids.includes('d1') ? undefined : ids;
      });
    } finally {
      await pg.end();
    }

    // a restore from an expired save is refused with the reason
    const restore = await sys.dsf.restore(DBID, 'from-expired', ['f1', 'f1.dsim', 'd1', 'd1.dsim']);
    expect(restore).toMatchObject({ type: 'CommandRejected', code: 'DATA_SET_EXPIRED', reason: expect.stringMatching(/data set f1 expired at .* the retention deleted it with save f1/) });

    // expiring again: nothing more is due; a repeated command for files already gone is fine
    const again = await dsf('expire');
    expect(again.json.dataSets.databases[0].expired).toEqual([]);
    const f1 = (await sys.events.waitFor((m) => m.type === 'DataSetExpired' && m.save === 'f1')) as MessageOfType<'DataSetExpired'>;
    const repeat = await sys.dsf.send({ type: 'DataSetExpireRequested', correlationId: 'expire-repeat', dbid: DBID, save: 'f1', dsid: f1.dsid, names: ['f1', 'f1.dsim'], reason: 'again', asOf: Date.now() });
    expect(repeat).toMatchObject({ type: 'DataSetExpired', save: 'f1' });
    // a command naming another save's data set deletes nothing
    const wrong = await sys.dsf.send({ type: 'DataSetExpireRequested', correlationId: 'expire-wrong', dbid: DBID, save: 'f1', dsid: parseDsid(byId.f1.dsid), names: ['d2'], reason: 'wrong', asOf: Date.now() });
    expect(wrong).toMatchObject({ type: 'CommandRejected', code: 'DATA_SET_MISMATCH' });
    expect(fs.existsSync(dataSet('d2'))).toBe(true);

    // dsf report: the topic retentions of the database's partition and the data set retention
    const report = await dsf('report', '--dbid', String(DBID));
    expect(report.code).toBe(0);
    expect(report.json.retention.dataSets).toMatchObject({ rule: 'the last 1 save', source: 'set' });
    expect(report.json.retention.dataSets.expired).toHaveLength(2);
    expect(report.json.retention.topics.map((t: { topic: string }) => t.topic)).toEqual(['dsf.block-changes', 'dsf.plog', 'dsf.dlog']);
    expect(report.json.retention.topics[1].readers.map((r: { group: string }) => r.group)).toContain('deltaflow.dsim-builder');
  } catch (e) {
    console.log(sys.services.tail(120));
    throw e;
  }
});

it('runs the retention pass by itself every DSF_EXPIRE_INTERVAL_MS: a newer full save lets the older chain go', async () => {
  try {
    await sys.services.restart('catalog', { env: { DSF_EXPIRE_INTERVAL_MS: '500' } });
    expect(await sys.dsf.save(DBID, 'full', 'f3')).toMatchObject({ type: 'SaveCompleted' });
    expect(await sys.dsf.dsim(DBID, 'DsimUnloadRequested', 'f3.dsim')).toMatchObject({ type: 'DsimUnloaded' });
    for (const s of ['f2', 'd2']) await sys.events.waitFor((m) => m.type === 'DataSetExpired' && m.save === s, 30_000, `DataSetExpired of ${s}`);
    expect(['f2', 'f2.dsim', 'd2', 'd2.dsim', 'f3'].map((n) => [n, fs.existsSync(dataSet(n))])).toEqual([['f2', false], ['f2.dsim', false], ['d2', false], ['d2.dsim', false], ['f3', true]]);
  } catch (e) {
    console.log(sys.services.tail(120));
    throw e;
  }
});

it('refuses a save that would leave the data set directory below the free-space threshold, before writing anything', async () => {
  try {
    await sys.services.restart('save-writer', { env: { DELTAFLOW_DISK_MIN_FREE_BYTES: String(2 ** 52) } });
    const o = await sys.dsf.save(DBID, 'delta', 'd3');
    expect(o).toMatchObject({ type: 'SaveFailed', code: 'DISK_NEARLY_FULL', reason: expect.stringMatching(/save d3 .* refused before writing anything/) });
    expect(fs.existsSync(dataSet('d3'))).toBe(false);
    expect(fs.existsSync(`${dataSet('d3')}.partial`)).toBe(false);
    expect(sys.services.grep(/WARNING: disk nearly full: datasets/).length).toBeGreaterThan(0);
  } catch (e) {
    console.log(sys.services.tail(120));
    throw e;
  }
});
