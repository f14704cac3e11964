/**
 * The seed's sample schedule on real processes, in compressed time: a "day" of 3 s, a "week" of 3
 * days. The change logger, DSIM builder, save writer, merge engine, catalog and scheduler run as
 * their own OS processes against the embedded broker and PostgreSQL while the reference nucleus
 * writes its database. `dsf schedule define` starts it (through the CLI's own code path); the
 * scheduler is killed with SIGKILL in the middle of the first cycle and started again. Checked:
 * the steps of a whole cycle and the start of the next one, each step's command sent exactly once
 * (on dsf.commands) through the crash, and the schedule's data sets restoring the database as
 * the nucleus had it at the last delta's end sync (its digest, computed by the nucleus itself).
 */
import type { MessageOfType } from '@deltaflow/contracts';
import { formatDsid } from '@deltaflow/dsid';
import { freePort, TopicCollector } from '@deltaflow/testing';
import { runCli } from '../../apps/cli/src/run';
import { startDeltaSaveSystem, type DeltaSaveSystem } from './support/delta-save-system';

jest.setTimeout(240_000);

const DBID = 1;
const DAY_MS = 3000;
const DAYS = 3;
let sys: DeltaSaveSystem;
let commands: TopicCollector;
let catalogUrl: string;

beforeAll(async () => {
  const port = await freePort();
  catalogUrl = `http://127.0.0.1:${port}`;
  sys = await startDeltaSaveSystem({
    name: 'schedule-e2e',
    dbid: DBID,
    dbMib: 16,
    services: ['change-logger', 'dsim-builder', 'save-writer', 'merge-engine', 'catalog', 'scheduler'],
    env: { CATALOG_HTTP_PORT: String(port), SCHEDULER_TICK_MS: '200' },
  });
  commands = await new TopicCollector(sys.kafka.brokers, 'dsf.commands').start();
});

afterAll(async () => {
  await commands?.stop();
  await sys?.stop();
});

/** The services' last lines when the test fails (a timeout too). */
async function withTail(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    console.log(sys.services.tail(150));
    throw e;
  }
}


async function dsf(...argv: string[]): Promise<{ code: number; json: Record<string, unknown> }> {
  const out: string[] = [];
  const code = await runCli([...argv, '--json'], { env: { KAFKA_BROKERS: sys.kafka.brokers.join(','), CATALOG_URL: catalogUrl }, out: (l) => out.push(l), err: () => undefined });
  return { code, json: JSON.parse(out.join('\n')) as Record<string, unknown> };
}

type Started = MessageOfType<'ScheduleStepStarted'>;
type Completed = MessageOfType<'ScheduleStepCompleted'>;
const isStep = (m: { type: string }, type: string, cycle: number, step: string, day?: number) =>
  m.type === type && (m as Started).scheduleId === 'demo' && (m as Started).cycle === cycle && (m as Started).step === step && (day === undefined || (m as Started).day === day);

describe('the sample schedule in compressed time', () => {
  it('runs a whole cycle and starts the next, sends each step once through a scheduler crash, and its data sets restore the database', () =>
    withTail(async () => {
    const defined = await dsf('schedule', 'define', '--dbid', String(DBID), '--delta-every', `${DAY_MS / 1000}s`, '--cycle', `${(DAYS * DAY_MS) / 1000}s`, '--name', 'demo', '--id', 'define-demo');
    expect(defined).toMatchObject({ code: 0, json: { ok: true, command: 'schedule define', scheduleId: 'demo', deltaEveryMs: DAY_MS, cycleMs: DAYS * DAY_MS } });
    // a second schedule for the same database is refused, naming the one that runs
    const other = await sys.dsf.send({ type: 'ScheduleDefineRequested', correlationId: 'define-other', dbid: DBID, scheduleId: 'other', deltaEveryMs: 86_400_000, cycleMs: 7 * 86_400_000 });
    expect(other).toMatchObject({ type: 'CommandRejected', code: 'SCHEDULE_EXISTS', reason: 'database 1 already runs schedule demo: remove it first' });

    // SIGKILL in the first cycle, once two deltas were merged into its consolidated delta
    const merged = (m: { type: string }) => isStep(m, 'ScheduleStepCompleted', 1, 'delta-merge');
    await sys.events.waitFor((m) => merged(m) && sys.events.messages.filter(merged).length >= 2, 60_000, 'a second consolidated delta');
    await sys.services.kill9('scheduler');
    await sys.services.start('scheduler', { env: { SCHEDULER_TICK_MS: '200' } });

    const nextCycle = await sys.events.waitFor<Completed>((m) => isStep(m, 'ScheduleStepCompleted', 2, 'delta-merge'), 120_000, 'the first consolidated delta of cycle 2');
    expect(await sys.dsf.send({ type: 'ScheduleRemoveRequested', correlationId: 'remove-demo', dbid: DBID })).toMatchObject({ type: 'ScheduleRemoved', scheduleId: 'demo' });

    const ev = sys.events.messages;
    const started = ev.filter((m): m is Started => m.type === 'ScheduleStepStarted');
    const completed = ev.filter((m): m is Completed => m.type === 'ScheduleStepCompleted');
    const failed = ev.filter((m): m is MessageOfType<'ScheduleStepFailed'> => m.type === 'ScheduleStepFailed');
    expect(ev.filter((m) => m.type === 'ScheduleHalted')).toEqual([]);

    // the cycle, in order: full save, its DSIM unloaded, every delta merged into the consolidated
    // delta, the weekly merge; then cycle 2 goes on from the merged full save
    const c1 = completed.filter((c) => c.cycle === 1).map((c) => (c.step.startsWith('delta') ? `${c.step} ${c.day}` : c.step));
    const days = [...new Set(completed.filter((c) => c.cycle === 1 && c.step === 'delta-save').map((c) => c.day))];
    expect(days.length).toBeGreaterThanOrEqual(2); // several deltas (missed days collapse into one)
    expect(days.at(-1)).toBe(DAYS);
    expect(c1).toEqual(['full-save', 'full-dsim-unload', ...days.flatMap((d) => [`delta-save ${d}`, `delta-merge ${d}`]), 'cycle-merge']);
    const cycleMerge = started.find((s) => s.cycle === 1 && s.step === 'cycle-merge')!;
    const lastMerge = completed.find((c) => c.cycle === 1 && c.step === 'delta-merge' && c.day === DAYS)!;
    expect(cycleMerge.inputs).toEqual(['demo.c1.full', 'demo.c1.full.dsim', lastMerge.output]);
    const newFull = completed.find((c) => c.cycle === 1 && c.step === 'cycle-merge')!;
    expect(newFull.output).toBe('demo.c2.full');
    expect(formatDsid(newFull.dsid!)).toMatch(/^\d+\/0-\d+\//);
    const c2 = started.filter((s) => s.cycle === 2);
    expect(c2.map((s) => s.step).slice(0, 2)).toEqual(['delta-save', 'delta-merge']);
    expect(c2[1].inputs).toEqual([c2[0].output, '@dsim']);

    // every step's command is on dsf.commands exactly once, with its step's correlation id
    const stepIds = started.map((s) => s.correlationId);
    expect(new Set(stepIds).size).toBe(stepIds.length);
    const STEP_COMMANDS = new Set(['SaveRequested', 'DsimUnloadRequested', 'MergeRequested']);
    // (the last step may have been decided just before the removal: its command follows its start)
    for (const id of stepIds) await commands.waitFor((c) => STEP_COMMANDS.has(c.type) && (c as { correlationId: string }).correlationId === id, 15_000, `the command of ${id}`);
    const sent = commands.messages.filter((c) => STEP_COMMANDS.has(c.type)).map((c) => String((c as { correlationId: string }).correlationId));
    expect([...sent].sort()).toEqual([...stepIds].sort());
    // a failed step (a DSIM not complete yet, or not yet freed) is tried again under a new id
    for (const f of failed) expect(f.retryAt).toBeGreaterThan(f.occurredAt);

    // the cycle's merged full save alone is the database at the last delta of cycle 1; with the
    // consolidated delta of cycle 2 it is the database at cycle 2's first delta
    const lastDelta = started.find((s) => s.cycle === 1 && s.step === 'delta-save' && s.day === DAYS && completed.some((c) => c.correlationId === s.correlationId))!;
    const c2Delta = started.find((s) => s.cycle === 2 && s.step === 'delta-save' && completed.some((c) => c.correlationId === s.correlationId))!;
    await sys.events.waitFor((m) => m.type === 'DsimReleased', 30_000);
    const full = await sys.dsf.restore(DBID, 'from-c2-full', ['demo.c2.full']);
    expect(full).toMatchObject({ type: 'RestoreCompleted', digest: sys.nucleus.digestAt(`${lastDelta.correlationId}.end`)!.digest });
    const chain = await sys.dsf.restore(DBID, 'from-c2-chain', ['demo.c2.full', nextCycle.output]);
    expect(chain).toMatchObject({ type: 'RestoreCompleted', digest: sys.nucleus.digestAt(`${c2Delta.correlationId}.end`)!.digest });

    // the catalog shows the runs (what `dsf schedule list` and the console read)
    const listed = await dsf('schedule', 'list', '--dbid', String(DBID));
    expect(listed.code).toBe(0);
    const [row] = listed.json.schedules as Array<{ scheduleId: string; status: string; cycle: number; steps: Array<{ correlationId: string; status: string; dsid?: string }> }>;
    expect(row).toMatchObject({ scheduleId: 'demo', status: 'removed', cycle: 2 });
    expect(row.steps.find((s) => s.correlationId === newFull.correlationId)).toMatchObject({ status: 'completed', dsid: formatDsid(newFull.dsid!) });
    }));
});
