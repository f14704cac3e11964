/**
 * The Python example upstream (examples/python-upstream/upstream.py) as a real process against
 * Deltaflow: the embedded broker and PostgreSQL, the change logger, save writer and DSIM builder
 * in-process. While the Python engine runs its workload, an online full save and an online delta
 * save (each with its DSIM unloaded) through `dsf`; the chain restored with restoreDelta must
 * equal the digest the Python engine computed itself at the delta's end sync. Its stream passes
 * `dsf upstream check`, each sync request got exactly one EtSync, and it stops with NucleusState
 * inactive. With the jsonschema package, the engine also validates every message it publishes
 * against libs/contracts/schemas.
 *
 * Skipped, saying so, where no python3 can import kafka (Debian: python3-kafka).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { BlockDatabase } from '@deltaflow/blockdb';
import type { MessageOfType } from '@deltaflow/contracts';
import { startEmbeddedKafka, type EmbeddedKafka } from '@deltaflow/embedded-kafka';
import { startEmbeddedPostgres, type RunningPostgres } from '@deltaflow/embedded-postgres';
import { restoreDelta } from '@deltaflow/merge';
import { TopicCollector } from '@deltaflow/testing';
import { runCli } from '../../apps/cli/src/run';
import { databasesFromDirs, startChangeLogger, type RunningChangeLogger } from '../../apps/change-logger/src/app';
import { startDsimBuilder, type RunningDsimBuilder } from '../../apps/dsim-builder/src/app';
import { startSaveWriter, type RunningSaveWriter } from '../../apps/save-writer/src/app';

const REPO = path.resolve(__dirname, '../..');
const SCRIPT = path.join(REPO, 'examples/python-upstream/upstream.py');

/** The first python3 that imports kafka: $DELTAFLOW_PYTHON, python3 on PATH, Debian's /usr/bin/python3. */
function findPython(): { python?: string; jsonschema: boolean } {
  const candidates = [process.env.DELTAFLOW_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const python of candidates) {
    if (spawnSync(python, ['-c', 'import kafka'], { stdio: 'ignore' }).status === 0) {
      return { python, jsonschema: spawnSync(python, ['-c', 'from jsonschema import Draft202012Validator'], { stdio: 'ignore' }).status === 0 };
    }
  }
  return { jsonschema: false };
}

const PY = findPython();
if (!PY.python) console.warn('python-upstream suite skipped: no python3 that can `import kafka` (Debian: apt-get install python3-kafka; or set DELTAFLOW_PYTHON)');
else if (!PY.jsonschema) console.warn(`python-upstream: ${PY.python} has no jsonschema: the engine's messages are not validated against the schemas (Debian: python3-jsonschema)`);
const describePython = PY.python ? describe : describe.skip;

jest.setTimeout(240_000);

const DBID = 5;
type PyEvent = { event: string; [k: string]: any };

/** The Python engine as a child process; its stdout is one JSON event per line. */
class PythonUpstream {
  readonly events: PyEvent[] = [];
  readonly stderr: string[] = [];
  private waiters: Array<{ pred: (e: PyEvent) => boolean; resolve: (e: PyEvent) => void }> = [];
  private exited?: Promise<number | null>;
  private child?: ChildProcess;

  start(args: string[]): this {
    const child = spawn(PY.python!, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let e: PyEvent;
      try {
        e = JSON.parse(line);
      } catch {
        this.stderr.push(`(stdout) ${line}`);
        return;
      }
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    });
    readline.createInterface({ input: child.stderr! }).on('line', (line) => this.stderr.push(line));
    return this;
  }

  waitFor(pred: (e: PyEvent) => boolean, ms: number, what: string): Promise<PyEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`python upstream: no ${what} within ${ms} ms; stderr:\n${this.stderr.slice(-30).join('\n')}`)), ms);
      this.waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
      void this.exited!.then((code) => reject(new Error(`python upstream exited (${code}) before ${what}; stderr:\n${this.stderr.slice(-30).join('\n')}`)));
    });
  }

  digestAt(syncId: string): string {
    const e = this.events.find((x) => x.event === 'sync' && x.syncId === syncId);
    if (!e) throw new Error(`the python upstream recorded no sync ${syncId}`);
    return e.digest;
  }

  /** SIGTERM, then its exit code (SIGKILL after `ms`). */
  async stop(ms = 20_000): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode ?? null;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child?.kill('SIGKILL'), ms);
    try {
      return await this.exited!;
    } finally {
      clearTimeout(t);
    }
  }
}

describePython('the Python example upstream, end to end', () => {
  let root: string;
  let kafka: EmbeddedKafka;
  let pg: RunningPostgres;
  let upstream: PythonUpstream;
  let changeLogger: RunningChangeLogger;
  let dsim: RunningDsimBuilder;
  let writer: RunningSaveWriter;
  let syncs: TopicCollector;
  let dataDir: string;
  let databaseDir: string;
  const quiet = () => undefined;

  async function dsf(...argv: string[]): Promise<any> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli([...argv, '--json'], { env: { KAFKA_BROKERS: kafka.brokers.join(',') }, out: (l) => out.push(l), err: (l) => err.push(l) });
    const json = out.length > 0 ? JSON.parse(out[0]) : undefined;
    if (code !== 0) throw new Error(`dsf ${argv.join(' ')}: exit ${code}: ${out.join('\n')} ${err.join('\n')}`);
    return json;
  }

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-python-upstream-'));
    fs.chmodSync(root, 0o755); // PostgreSQL runs as another OS user when we are root
    [kafka, pg] = await Promise.all([startEmbeddedKafka({ dataDir: path.join(root, 'kafka'), fsync: 'never' }), startEmbeddedPostgres({ dataDir: path.join(root, 'pg'), fsync: false })]);
    dataDir = path.join(root, 'data');
    syncs = await new TopicCollector(kafka.brokers, 'dsf.block-changes', ['BlockChanged']).start();
    upstream = new PythonUpstream().start([
      '--brokers', kafka.brokers.join(','),
      '--dbid', String(DBID),
      '--dir', path.join(root, 'engine'),
      '--txn-interval-ms', '5',
      '--blocks-per-txn', '3',
      '--sync-interval-ms', '0',
      '--utility-every', '15',
      ...(PY.jsonschema ? ['--validate-schemas', path.join(REPO, 'libs/contracts/schemas')] : []),
    ]);
    const ready = await upstream.waitFor((e) => e.event === 'ready', 60_000, 'ready');
    databaseDir = ready.database;
    changeLogger = await startChangeLogger({ brokers: kafka.brokers, databases: databasesFromDirs([databaseDir]), log: quiet });
    dsim = await startDsimBuilder({ brokers: kafka.brokers, databaseUrl: pg.url, dataDir, databaseDir: () => databaseDir, fsync: false, log: quiet });
    writer = await startSaveWriter({ brokers: kafka.brokers, dataDir, databaseDir: () => databaseDir, fsync: false, log: quiet });
  });

  afterAll(async () => {
    await upstream?.stop().catch(() => undefined);
    for (const s of [writer, dsim, changeLogger]) await s?.stop().catch(() => undefined);
    await syncs?.stop();
    await kafka?.stop();
    await pg?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('an online full and an online delta save of its database restore to its own digest at the delta\'s end sync', async () => {
    await upstream.waitFor((e) => e.event === 'progress' && e.transactions >= 100, 60_000, '100 transactions');

    const full = await dsf('save', '--dbid', String(DBID), '--full', '--dest', 'py-full', '--id', 'py-full');
    expect(full).toMatchObject({ ok: true, event: 'SaveCompleted', kind: 'full', online: true });
    const fullDsim = await dsf('dsim', 'unload', '--dbid', String(DBID), '--wait', '--dest', 'py-full.dsim');

    await upstream.waitFor((e) => e.event === 'progress' && e.transactions >= 300, 60_000, '300 transactions');
    const delta = await dsf('save', '--dbid', String(DBID), '--delta', '--dest', 'py-delta', '--id', 'py-delta');
    expect(delta).toMatchObject({ ok: true, event: 'SaveCompleted', kind: 'delta', online: true });
    expect(delta.blocks).toBeLessThan(full.blocks);
    const deltaDsim = await dsf('dsim', 'unload', '--dbid', String(DBID), '--wait', '--dest', 'py-delta.dsim');
    // online for real: the engine wrote while the saves ran, and the DSIMs hold those blocks
    expect(fullDsim.blocks + deltaDsim.blocks).toBeGreaterThan(0);

    const target = path.join(root, 'restored');
    await restoreDelta({ inputs: ['py-full', 'py-full.dsim', 'py-delta', 'py-delta.dsim'].map((n) => path.join(dataDir, 'datasets', n)), target });
    const db = BlockDatabase.open(target, { readOnly: true });
    let restored: string;
    try {
      restored = db.digest();
    } finally {
      db.close();
    }
    const expected = upstream.digestAt('py-delta.end');
    expect(restored).toBe(expected);
    // the oracle can fail: the database moved between the two saves
    expect(upstream.digestAt('py-full.end')).not.toBe(expected);
  });

  it('its stream passes `dsf upstream check`; each sync request got exactly one EtSync', async () => {
    const check = await dsf('upstream', 'check', '--dbid', String(DBID), '--geometry', databaseDir);
    expect(check).toMatchObject({ ok: true, dbid: DBID, undecodable: 0, problems: [] });
    expect(check.syncPoints).toBeGreaterThanOrEqual(4);

    const etSyncs = syncs.messages.filter((m): m is MessageOfType<'EtSync'> => m.type === 'EtSync' && m.dbid === DBID).map((m) => m.syncId);
    for (const id of ['py-full.start', 'py-full.end', 'py-delta.start', 'py-delta.end']) expect(etSyncs.filter((s) => s === id)).toEqual([id]);
  });

  it('stops on SIGTERM after its last transaction, with NucleusState inactive', async () => {
    expect(await upstream.stop()).toBe(0);
    const stopped = upstream.events.find((e) => e.event === 'stopped');
    expect(stopped).toBeDefined();
    const inactive = await syncs.waitFor<MessageOfType<'NucleusState'>>((m) => m.type === 'NucleusState' && m.dbid === DBID && !m.active, 10_000);
    expect(inactive.lsn).toBe(stopped!.lsn);
    expect(upstream.stderr.filter((l) => /Traceback|Error/.test(l))).toEqual([]);
  });
});
