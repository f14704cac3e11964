/**
 * The job `npm start` runs once everything is up, through the same `dsf` command a user types
 * (no library call): with the sample database's workload running, the seed's four-step example
 * ("Delta Save - Save/Merge Sequence"), then a restore of the chain through the merge engine,
 * verified against the nucleus's own digest at the last save's end sync.
 *
 *   1. online full save (1/0/t1); its DSIM unloaded (1a)
 *   2. online delta save (1/1/t2); its DSIM unloaded
 *   3. online delta save (1/2/t3), merged with step 2's delta and both DSIMs into a consolidated delta 1/1-2/t3
 *   4. online delta save (1/3/t4), merged with the full save, its unloaded DSIM, the consolidated delta and
 *      the ORIGINAL DSIM of step 4 (@dsim, DSIMWAIT) into a new full save 1/0-3/t4 (which frees the DSIM)
 *   5. the new full save alone restored by the merge engine: its digest equals the nucleus's at t4's end sync
 *   6. streaming: stream S1 defined, a delta save written to it as a client file, its DSIM unloaded,
 *      and the chain (new full save + the delta read back from the stream + its DSIM) restored and
 *      verified at the delta's end sync
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '@deltaflow/processes';

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

/** Runs `dsf <args> --json` as its own process (what a user types: npm run dsf -- <args>); returns its JSON outcome. */
export function dsf(args: string[], env: NodeJS.ProcessEnv, log: (l: string) => void): Promise<{ code: number; result: Record<string, any> }> {
  log(`$ dsf ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [RUN_TS, 'apps/cli/src/main.ts', ...args, '--json'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    let buf = '';
    p.stderr.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        log(`  ${buf.slice(0, i)}`);
        buf = buf.slice(i + 1);
      }
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      let result: Record<string, any> = {};
      try {
        result = JSON.parse(out.trim() || '{}');
      } catch {
        log(`  (not JSON: ${out.trim().slice(0, 200)})`);
      }
      resolve({ code: code ?? 1, result });
    });
  });
}

/** The nucleus's digest of its database at a sync point (sync-digests.jsonl, one JSON per line). */
export function nucleusDigestAt(dataDir: string, dbid: number, syncId: string): string | undefined {
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
  const dbid = String(ctx.dbid ?? 1);
  const pause = ctx.pauseMs ?? 2000;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  const name = (what: string) => `db${dbid}-${stamp}-${what}`;
  const step = async (args: string[]) => {
    const { code, result } = await dsf([...args, '--timeout', '300'], ctx.env, log);
    if (code !== 0) throw new Error(`dsf ${args.slice(0, 2).join(' ')} exited with ${code}: ${result.code ?? ''} ${result.reason ?? result.error ?? ''}`);
    return result;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const save = async (what: string) => {
    await sleep(pause);
    const r = await step(['save', '--dbid', dbid, what === 'full' ? '--full' : '--delta', '--dest', name(what), '--id', name(what)]);
    log(`  saved ${name(what)}: DSID ${r.dsid}`);
    return r;
  };
  const unloadDsim = (what: string) => step(['dsim', 'unload', '--dbid', dbid, '--wait', '--dest', name(`${what}.dsim`), '--id', name(`${what}-unload`)]);

  log(`database ${dbid} is being written by the reference nucleus; the seed's four-step example while it runs`);
  // Step 1: online full save, its DSIM unloaded (1a)
  await save('full');
  await unloadDsim('full');
  // Step 2: online delta save; its DSIM unloaded
  await save('d1');
  await unloadDsim('d1');
  // Step 3: online delta save, merged with step 2 into a consolidated delta (seed: 1/1-2/t3)
  await save('d2');
  await unloadDsim('d2');
  const consolidated = await step(['merge', '--dbid', dbid, '--dest', name('d1-2'), name('d1'), name('d1.dsim'), name('d2'), name('d2.dsim')]);
  log(`  step 3: consolidated delta ${name('d1-2')}: DSID ${consolidated.dsid}`);
  // Step 4: online delta save, merged with the full save, its unloaded DSIM, the consolidated delta and the
  // original DSIM of this save (read where it lives; DSIMWAIT) into a new full save (seed: 1/0-3/t4)
  await save('d3');
  const newFull = await step(['merge', '--dbid', dbid, '--dest', name('full2'), '--full', '--dsim-wait', '120', name('full'), name('full.dsim'), name('d1-2'), name('d3'), '@dsim']);
  log(`  step 4: new full save ${name('full2')}: DSID ${newFull.dsid}${newFull.releasedDsid ? ' (the DSIM is free again)' : ''}`);

  // Restore the new full save alone through the merge engine: it must equal the database at step 4's end sync
  const t0 = Date.now();
  const restored = await step(['restore', '--dbid', dbid, '--target', name('restored'), name('full2')]);
  const expected = nucleusDigestAt(ctx.dataDir, Number(dbid), `${name('d3')}.end`);
  if (expected === undefined) throw new Error(`the nucleus recorded no digest at sync ${name('d3')}.end`);
  if (restored.digest !== expected) throw new Error(`restored digest ${restored.digest} differs from the nucleus's digest ${expected} at the last save's end sync`);
  log(
    `restored ${name('full2')} (DSID ${restored.dsid ?? '?'}: the four steps merged) into restores/${name('restored')} in ${Date.now() - t0} ms; ` +
      `digest ${String(restored.digest).slice(0, 16)}... equals the nucleus's at the last save's end sync: VERIFIED`,
  );

  // Streaming backup: a delta save to stream S1 (a client file on a tape volume), read back by the
  // merge engine with the chain it extends: the new full save, and the delta's DSIM
  if (ctx.env.CATALOG_URL) {
    await step(['stream', 'define', 'S1']);
    await sleep(pause);
    const streamed = await step(['save', '--dbid', dbid, '--delta', '--stream', 'S1', '--dest', name('d4'), '--id', name('d4')]);
    log(`  saved ${name('d4')} to stream S1 (DSID ${streamed.dsid}): ${streamed.location ? JSON.stringify(streamed.location) : 'a client file'}`);
    await step(['dsim', 'unload', '--dbid', dbid, '--wait', '--dest', name('d4.dsim'), '--id', name('d4-unload')]);
    const fromStream = await step(['restore', '--dbid', dbid, '--target', name('restored-from-stream'), name('full2'), `stream:S1/${name('d4')}`, name('d4.dsim')]);
    const atD4 = nucleusDigestAt(ctx.dataDir, Number(dbid), `${name('d4')}.end`);
    if (fromStream.digest !== atD4) throw new Error(`restored digest ${fromStream.digest} (with stream:S1/${name('d4')}) differs from the nucleus's ${atD4} at its end sync`);
    log(`restored ${name('full2')} + stream:S1/${name('d4')} + its DSIM into restores/${name('restored-from-stream')}: digest equals the nucleus's at the streamed save's end sync: VERIFIED`);
  }

  if (ctx.env.CATALOG_URL) {
    const { code, result } = await dsf(['saves', 'list', '--dbid', dbid], ctx.env, log);
    if (code === 0)
      for (const s of (result.saves ?? []) as Array<Record<string, unknown>>)
        log(`  ${String(s.dsid ?? '-').padEnd(44)} ${String(s.origin).padEnd(5)} ${String(s.kind ?? '').padEnd(5)} ${s.online ? 'online ' : 'offline'} ${String(s.status).padEnd(9)} ${s.path ?? s.reason ?? ''}`);
    log(`the catalog answers: dsf saves list --dbid ${dbid}, dsf report --dbid ${dbid}`);
  }
  log('done; the workload keeps running (Ctrl-C stops everything)');
}
