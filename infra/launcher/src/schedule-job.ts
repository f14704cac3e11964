/**
 * The job `npm start -- --schedule` (or DELTAFLOW_SCHEDULE=compressed) runs instead of the main job:
 * the seed's sample schedule of the sample database in compressed time, through the `dsf` a user
 * types. A "day" of 20 s and a "week" of 140 s (DELTAFLOW_SCHEDULE_DELTA_EVERY and
 * DELTAFLOW_SCHEDULE_CYCLE change them): an online full save and its DSIM unloaded, a delta every
 * day merged with its DSIM into the consolidated delta, the weekly merge into a new full save that
 * starts the next cycle. It follows the runs through the catalog (`dsf schedule list`) and, at each
 * new full save, restores it and checks it against the nucleus's own digest at the last delta's
 * end sync. The schedule keeps running until Ctrl-C.
 */
import { dsf, nucleusDigestAt, type MainJobContext } from './main-job';

interface StepRow {
  correlationId: string;
  cycle: number;
  day: number;
  step: string;
  attempt: number;
  status: string;
  output: string;
  inputs?: string[];
  dsid?: string;
  code?: string;
  reason?: string;
}

export interface ScheduleJobContext extends MainJobContext {
  deltaEvery?: string;
  cycle?: string;
  /** stop following after this many cycle merges (default: follow until stopped) */
  cycles?: number;
  /** how often the catalog is asked (default 3000 ms) */
  pollMs?: number;
}

export async function runScheduleJob(ctx: ScheduleJobContext): Promise<void> {
  const log = ctx.log ?? ((l: string) => console.log(`[schedule] ${l}`));
  const dbid = String(ctx.dbid ?? 1);
  const deltaEvery = ctx.deltaEvery ?? '20s';
  const cycle = ctx.cycle ?? '140s';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').replace('T', '-');
  const name = `demo${dbid}-${stamp}`;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  // a schedule left from an earlier run of the same home is replaced
  await dsf(['schedule', 'remove', '--dbid', dbid, '--timeout', '60'], ctx.env, () => undefined);
  const defined = await dsf(['schedule', 'define', '--dbid', dbid, '--delta-every', deltaEvery, '--cycle', cycle, '--name', name, '--timeout', '60'], ctx.env, log);
  if (defined.code !== 0) throw new Error(`dsf schedule define exited with ${defined.code}: ${defined.result.code ?? ''} ${defined.result.reason ?? defined.result.error ?? ''}`);
  log(`schedule ${name}: a delta every ${deltaEvery}, a cycle of ${cycle} (compressed time: a day is ${deltaEvery}, a week ${cycle}); follow it with dsf schedule list --dbid ${dbid}`);

  const shown = new Set<string>();
  const verified = new Set<string>();
  let merges = 0;
  for (;;) {
    await sleep(ctx.pollMs ?? 3000);
    if (!ctx.env.CATALOG_URL) continue;
    const { code, result } = await dsf(['schedule', 'list', '--dbid', dbid], ctx.env, () => undefined);
    if (code !== 0) continue;
    const s = ((result.schedules ?? []) as Array<{ scheduleId: string; status: string; reason?: string; steps: StepRow[] }>).find((x) => x.scheduleId === name);
    if (!s) continue;
    for (const r of s.steps) {
      const key = `${r.correlationId}:${r.status}`;
      if (r.status === 'started' || shown.has(key)) continue;
      shown.add(key);
      const what = r.inputs ? `${r.inputs.join(' + ')} -> ${r.output}` : r.output;
      log(`cycle ${r.cycle} day ${r.day} ${r.step}${r.attempt > 1 ? ` (attempt ${r.attempt})` : ''}: ${r.status}: ${what}${r.dsid ? ` DSID ${r.dsid}` : ''}${r.code ? ` ${r.code}: ${r.reason}` : ''}`);
      if (r.step === 'cycle-merge' && r.status === 'completed' && !verified.has(r.correlationId)) {
        verified.add(r.correlationId);
        await verify(r, s.steps);
        merges++;
        log(`cycle ${r.cycle + 1} starts from the merged full save ${r.output}`);
      }
    }
    if (s.status !== 'active') {
      log(`schedule ${name} is ${s.status}${s.reason ? `: ${s.reason}` : ''}`);
      return;
    }
    if (ctx.cycles !== undefined && merges >= ctx.cycles) return;
  }

  /** The new full save alone restores the database as it was at the end sync of the cycle's last delta. */
  async function verify(merge: StepRow, steps: StepRow[]): Promise<void> {
    const lastDelta = steps.filter((x) => x.cycle === merge.cycle && x.step === 'delta-save' && x.status === 'completed').at(-1);
    if (!lastDelta) return;
    const target = `${merge.output}-restored`;
    const { code, result } = await dsf(['restore', '--dbid', dbid, '--target', target, merge.output, '--timeout', '300'], ctx.env, log);
    const expected = nucleusDigestAt(ctx.dataDir, Number(dbid), `${lastDelta.correlationId}.end`);
    if (code !== 0 || expected === undefined || result.digest !== expected)
      throw new Error(`the new full save ${merge.output} restored to ${String(result.digest ?? result.error)}, the nucleus had ${expected ?? '(no digest)'} at ${lastDelta.correlationId}.end`);
    log(`restored ${merge.output} into restores/${target}: digest ${String(result.digest).slice(0, 16)}... equals the nucleus's at the last delta's end sync: VERIFIED`);
  }
}
