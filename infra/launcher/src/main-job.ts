/**
 * The job `npm start` runs once everything is up, through the same `dsf` command a user
 * types: with the sample database's workload running, an online full save and an online
 * delta save, each DSIM unloaded once its save reaches the end sync, then the chain
 * (full + DSIM + delta + DSIM) restored into a new directory and its digest compared with
 * the nucleus's own digest at the delta's end sync. The services keep running afterwards.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDatabase } from '@deltaflow/blockdb';
import { restoreDelta } from '@deltaflow/merge';
import { ROOT } from './processes';

export interface MainJobContext {
  /** environment of the services: KAFKA_BROKERS, CATALOG_URL, DELTAFLOW_DATA_DIR... */
  env: NodeJS.ProcessEnv;
  home: string;
  dataDir: string;
  dbid?: number;
  /** workload time before the first save and between the saves (ms) */
  pauseMs?: number;
  log?: (line: string) => void;
}

const RUN_TS = path.join(ROOT, 'infra', 'launcher', 'bin', 'run-ts.js');

/** Runs `dsf <args>` as its own process (what a user types: npm run dsf -- <args>). */
function dsf(args: string[], env: NodeJS.ProcessEnv, log: (l: string) => void): Promise<number> {
  log(`$ dsf ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [RUN_TS, 'apps/cli/src/main.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [p.stdout, p.stderr]) {
      let buf = '';
      s.on('data', (c: Buffer) => {
        buf += c.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          log(`  ${buf.slice(0, i)}`);
          buf = buf.slice(i + 1);
        }
      });
    }
    p.on('error', reject);
    p.on('exit', (code) => resolve(code ?? 1));
  });
}

/** The nucleus's digest of its database at a sync point (sync-digests.jsonl, one JSON per line). */
function nucleusDigestAt(dataDir: string, dbid: number, syncId: string): string | undefined {
  const file = path.join(dataDir, 'nucleus-sim', `db${dbid}`, 'sync-digests.jsonl');
  if (!fs.existsSync(file)) return undefined;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const d = JSON.parse(line) as { syncId: string; digest: string };
    if (d.syncId === syncId) return d.digest;
  }
  return undefined;
}

export async function runMainJob(ctx: MainJobContext): Promise<void> {
  const log = ctx.log ?? ((l: string) => console.log(`[main job] ${l}`));
  const dbid = ctx.dbid ?? 1;
  const pause = ctx.pauseMs ?? 2000;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  const name = (what: string) => `db${dbid}-${stamp}-${what}`;
  const step = async (args: string[]) => {
    const code = await dsf(args, ctx.env, log);
    if (code !== 0) throw new Error(`dsf ${args.slice(0, 2).join(' ')} exited with ${code}`);
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  log(`database ${dbid} is being written by the reference nucleus; saving it while it runs`);
  await sleep(pause);
  await step(['save', '--dbid', String(dbid), '--full', '--dest', name('full'), '--id', name('full'), '--timeout', '300']);
  await step(['dsim', 'unload', '--dbid', String(dbid), '--wait', '--dest', name('full.dsim'), '--id', name('full-unload'), '--timeout', '300']);
  await sleep(pause);
  await step(['save', '--dbid', String(dbid), '--delta', '--dest', name('delta'), '--id', name('delta'), '--timeout', '300']);
  await step(['dsim', 'unload', '--dbid', String(dbid), '--wait', '--dest', name('delta.dsim'), '--id', name('delta-unload'), '--timeout', '300']);

  const chain = ['full', 'full.dsim', 'delta', 'delta.dsim'].map((w) => path.join(ctx.dataDir, 'datasets', name(w)));
  const target = path.join(ctx.home, 'restores', name('restored'));
  log(`restoring full + DSIM + delta + DSIM into ${path.relative(process.cwd(), target) || target}`);
  const t0 = Date.now();
  await restoreDelta({ inputs: chain, target });
  const db = BlockDatabase.open(target, { readOnly: true });
  let got: string;
  try {
    got = db.digest();
  } finally {
    db.close();
  }
  const expected = nucleusDigestAt(ctx.dataDir, dbid, `${name('delta')}.end`);
  if (expected === undefined) throw new Error(`the nucleus recorded no digest at sync ${name('delta')}.end`);
  if (got !== expected) throw new Error(`restored digest ${got} differs from the nucleus's digest ${expected} at the delta's end sync`);
  log(`restored in ${Date.now() - t0} ms; digest ${got.slice(0, 16)}... equals the nucleus's at the delta's end sync: VERIFIED`);

  if (ctx.env.CATALOG_URL) await step(['saves', 'list', '--dbid', String(dbid)]);
  log('done; the workload keeps running (Ctrl-C stops everything)');
}
