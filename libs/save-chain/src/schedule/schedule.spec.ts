import fc from 'fast-check';
import { SaveChainError } from '../errors';
import { schedule, type ScheduleDefinition, type ScheduleEvent, type ScheduleState, type StepOutcome, type StepPlan } from '../index';

const { decide, evolve, initialState, nextStep, commandToSend, restoreInputs, validateDefinition } = schedule;
const DAY = 20_000;
const WEEK = 7 * DAY;
const T0 = 1_000_000;
const def: ScheduleDefinition = { scheduleId: 's1', dbid: 7, deltaEveryMs: DAY, cycleMs: WEEK, startAt: T0 };
const defined = (d: ScheduleDefinition = def): ScheduleEvent => ({ type: 'ScheduleDefined', correlationId: 'def-1', ...d, occurredAt: d.startAt - 5 });
const fold = (log: readonly ScheduleEvent[]): ScheduleState => log.reduce(evolve, initialState());

/**
 * The scheduler and the services around it, in memory: every `tickMs` the decider is asked what is
 * due; its events go to the log; the running step's command is "sent" (a CommandSeen in the log,
 * and counted) and answered by `world` (an OutcomeObserved). `crashAt(i)` drops the in-memory state
 * before iteration i: it is folded again from the log, as a restarted scheduler does.
 */
function simulate(o: { from?: number; until: number; tickMs?: number; world?: (p: StepPlan, now: number) => StepOutcome | null; crashAt?: (i: number) => boolean; log?: ScheduleEvent[] }) {
  const log: ScheduleEvent[] = o.log ?? [defined()];
  const sent: StepPlan[] = [];
  let state = fold(log);
  const push = (e: ScheduleEvent) => {
    log.push(e);
    state = evolve(state, e);
  };
  for (let now = o.from ?? def.startAt - 1000, i = 0; now <= o.until; now += o.tickMs ?? 1000, i++) {
    if (o.crashAt?.(i)) state = fold(log);
    // as the scheduler does: it decides again as soon as an outcome arrives
    for (let progress = true; progress; ) {
      const events = decide({ type: 'Tick', now }, state);
      events.forEach(push);
      if (o.crashAt?.(i + 0.5)) state = fold(log); // between the decision and the command
      const plan = commandToSend(state);
      progress = events.length > 0 || plan !== null;
      if (plan) {
        sent.push(plan);
        push({ type: 'CommandSeen', correlationId: plan.correlationId });
        const outcome = (o.world ?? (() => ({ ok: true })))(plan, now);
        if (outcome) push({ type: 'OutcomeObserved', correlationId: plan.correlationId, outcome, occurredAt: now });
      }
    }
  }
  return { log, sent, state };
}

describe('the sample schedule (seed: Sample Schedule for Save and Merge Operations)', () => {
  it('starts a cycle with an online full save and unloads its DSIM, saves a delta every day merged with its DSIM into the consolidated delta, and once a week merges the full and the consolidated delta into the next cycle\'s full save', () => {
    const { sent, state } = simulate({ until: T0 + 2 * WEEK + DAY + 500 });
    const steps = sent.map((p) => `${p.cycle}/${p.day} ${p.step}`);
    const week = (c: number) => [1, 2, 3, 4, 5, 6, 7].flatMap((d) => [`${c}/${d} delta-save`, `${c}/${d} delta-merge`]);
    expect(steps).toEqual(['1/0 full-save', '1/0 full-dsim-unload', ...week(1), '1/7 cycle-merge', ...week(2), '2/7 cycle-merge', '3/1 delta-save', '3/1 delta-merge']);

    const by = (id: string) => sent.find((p) => p.correlationId === id)!.command;
    expect(by('s1.c1.d0.full-save')).toEqual({ type: 'SaveRequested', kind: 'full', online: true, output: 's1.c1.full' });
    expect(by('s1.c1.d0.full-dsim-unload')).toEqual({ type: 'DsimUnloadRequested', output: 's1.c1.full.dsim' });
    // seed step 2: the first delta with its original DSIM; step 3: the consolidated delta, the new delta and its DSIM
    expect(by('s1.c1.d1.delta-merge')).toMatchObject({ type: 'MergeRequested', inputs: ['s1.c1.d1', '@dsim'], output: 's1.c1.cd1', full: false });
    expect(by('s1.c1.d2.delta-merge')).toMatchObject({ inputs: ['s1.c1.cd1', 's1.c1.d2', '@dsim'], output: 's1.c1.cd2' });
    // once a week: the full save (online: with its unloaded DSIM) and the consolidated delta into a new full
    expect(by('s1.c1.d7.cycle-merge')).toEqual({ type: 'MergeRequested', inputs: ['s1.c1.full', 's1.c1.full.dsim', 's1.c1.cd7'], output: 's1.c2.full', full: true, dsimWaitSec: 0 });
    // the merged full save (offline: no DSIM) starts the next cycle
    expect(by('s1.c2.d1.delta-merge')).toMatchObject({ inputs: ['s1.c2.d1', '@dsim'], output: 's1.c2.cd1' });
    expect(by('s1.c2.d7.cycle-merge')).toMatchObject({ inputs: ['s1.c2.full', 's1.c2.cd7'], output: 's1.c3.full', full: true });
    expect(state).toMatchObject({ cycle: 3, cycleStart: T0 + 2 * WEEK, day: 1, consolidated: 's1.c3.cd1' });
    expect(restoreInputs(state)).toEqual(['s1.c3.full', 's1.c3.cd1']);
  });

  it('counts the days from when the full save was usable, if that is later than the cycle\'s start', () => {
    // the DSIM of the full save could be unloaded only at the 4th attempt, 0.75 day after the start
    const { sent } = simulate({ until: T0 + 4 * DAY, world: (p, now) => (p.step === 'full-dsim-unload' && now < T0 + 0.6 * DAY ? { ok: false, code: 'DSIM_NOT_COMPLETE', reason: 'not yet' } : { ok: true }) });
    const unloaded = sent.filter((p) => p.step === 'full-dsim-unload').at(-1)!;
    const delta = sent.find((p) => p.step === 'delta-save')!;
    expect(unloaded).toMatchObject({ attempt: 4, dueAt: T0 + 0.75 * DAY });
    expect(delta).toMatchObject({ day: 1, dueAt: T0 + 1.75 * DAY });
  });

  it('saves each delta on its day: nothing is due between two days', () => {
    const { sent } = simulate({ until: T0 + 3 * DAY + 500 });
    const deltas = sent.filter((p) => p.step === 'delta-save');
    expect(deltas.map((p) => p.dueAt)).toEqual([T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY]);
    const s = fold(simulate({ until: T0 + 3 * DAY + 500 }).log);
    expect(decide({ type: 'Tick', now: T0 + 4 * DAY - 1 }, s)).toEqual([]);
    expect(decide({ type: 'Tick', now: T0 + 4 * DAY }, s)).toMatchObject([{ type: 'ScheduleStepStarted', step: 'delta-save', day: 4 }]);
  });

  it('restores from the full save, the consolidated delta and the delta not merged yet at any time', () => {
    const { log } = simulate({ until: T0 + 3 * DAY + 500, world: (p) => (p.step === 'delta-merge' && p.day === 3 ? null : { ok: true }) });
    const s = fold(log);
    expect(restoreInputs(s)).toEqual(['s1.c1.full', 's1.c1.full.dsim', 's1.c1.cd2', 's1.c1.d3', '@dsim']);
  });

  it('decides the same again from the same log, and sends every step\'s command once through any crash of the scheduler', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 40 }), (crashes, between) => {
        const crashAt = (i: number) => (Number.isInteger(i) ? crashes.includes(i) : between.includes(i - 0.5));
        const { sent, log } = simulate({ until: T0 + WEEK + 2 * DAY, tickMs: 500, crashAt });
        const ids = sent.map((p) => p.correlationId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual(simulate({ until: T0 + WEEK + 2 * DAY, tickMs: 500 }).sent.map((p) => p.correlationId));
        // idempotent: the folded log decides nothing new at the same instant
        const s = fold(log);
        expect(decide({ type: 'Tick', now: T0 + WEEK + 2 * DAY }, s)).toEqual([]);
        expect(commandToSend(s)).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('a command read before its ScheduleStepStarted (two topics) is not sent again', () => {
    const { log } = simulate({ until: T0 + DAY + 10 });
    const started = log.findIndex((e) => e.type === 'ScheduleStepStarted' && e.step === 'delta-save');
    const seen = log.findIndex((e, i) => i > started && e.type === 'CommandSeen');
    const reordered = [...log.slice(0, started), log[seen], ...log.slice(started, seen), ...log.slice(seen + 1)];
    const cut = reordered.slice(0, seen + 1); // up to the step's start and its command, no outcome yet
    expect(fold(cut).running?.plan.step).toBe('delta-save');
    expect(commandToSend(fold(cut))).toBeNull();
    // without the command in the log, it is sent
    expect(commandToSend(fold(log.slice(0, started + 1)))?.correlationId).toBe('s1.c1.d1.delta-save');
  });

  it('retries a failed step after a quarter day with a new correlation id, and halts after five failures in a row', () => {
    let merges = 0;
    const { sent, log, state } = simulate({
      until: T0 + 2 * DAY,
      world: (p) => (p.step === 'delta-merge' && ++merges <= 2 ? { ok: false, code: 'MERGE_INPUT_INVALID', reason: 'broken' } : { ok: true }),
    });
    const tries = sent.filter((p) => p.step === 'delta-merge' && p.day === 1);
    expect(tries.map((p) => [p.correlationId, p.attempt])).toEqual([
      ['s1.c1.d1.delta-merge', 1],
      ['s1.c1.d1.delta-merge.a2', 2],
      ['s1.c1.d1.delta-merge.a3', 3],
    ]);
    expect(tries[1].dueAt).toBe(T0 + DAY + DAY / 4); // the failure at T0 + DAY
    expect(log.filter((e) => e.type === 'ScheduleStepFailed')).toHaveLength(2);
    expect(state.failures).toBe(0);
    expect(state.day).toBe(2);

    const halted = simulate({ until: T0 + 3 * DAY, world: (p) => (p.step === 'delta-save' ? { ok: false, code: 'DSIM_IN_USE', reason: 'busy' } : { ok: true }) });
    expect(halted.sent.filter((p) => p.step === 'delta-save')).toHaveLength(5);
    expect(halted.log.at(-1)).toMatchObject({ type: 'ScheduleHalted', code: 'DSIM_IN_USE' });
    expect(halted.state.halted).not.toBeNull();
    expect(decide({ type: 'Tick', now: T0 + 9 * DAY }, halted.state)).toEqual([]);
  });

  it('collapses missed days into one delta, and a cycle merged more than a cycle late starts at the last cycle boundary', () => {
    const log = simulate({ until: T0 + 10 }).log; // full save and its DSIM
    const s = fold(log);
    const late = nextStep(s, T0 + 4 * DAY + 3)!;
    expect(late).toMatchObject({ step: 'delta-save', day: 4, dueAt: T0 + 4 * DAY });
    const far = nextStep(s, T0 + 30 * DAY)!;
    expect(far).toMatchObject({ day: 7 });
    // the scheduler comes back three weeks later: one delta (day 7), its merge and the cycle merge
    const out = simulate({ from: T0 + 3 * WEEK + 5, until: T0 + 3 * WEEK + 5, log: [...log] });
    expect(out.sent.map((p) => `${p.day} ${p.step}`)).toEqual(['7 delta-save', '7 delta-merge', '7 cycle-merge']);
    expect(out.state).toMatchObject({ cycle: 2, cycleStart: T0 + 3 * WEEK, day: 0 });
    // its days count from when the merged full save was ready
    expect(nextStep(out.state, T0 + 3 * WEEK + 6)).toMatchObject({ step: 'delta-save', day: 1, dueAt: T0 + 3 * WEEK + 5 + DAY });
  });

  it('refuses a bad definition or a second schedule with a specific error, and accepts a redelivered one', () => {
    const bad = (d: Partial<ScheduleDefinition>, message: RegExp) => expect(() => validateDefinition({ ...def, ...d })).toThrow(message);
    bad({ deltaEveryMs: 500 }, /at least 1 s/);
    bad({ cycleMs: 10_000 }, /at least one delta interval/);
    bad({ cycleMs: 50_000 }, /whole number of delta intervals/);
    bad({ deltaEveryMs: 1000, cycleMs: 1_001_000 }, /too long/);
    const s = fold([defined()]);
    expect(() => decide({ type: 'Define', correlationId: 'x', definition: { ...def, scheduleId: 's2' }, now: T0 }, s)).toThrow(SaveChainError);
    expect(() => decide({ type: 'Define', correlationId: 'x', definition: { ...def, scheduleId: 's2' }, now: T0 }, s)).toThrow(/already runs schedule s1/);
    expect(decide({ type: 'Define', correlationId: 'def-1', definition: def, now: T0 }, s)).toEqual([]);
    expect(() => decide({ type: 'Remove', correlationId: 'r', now: T0 }, initialState())).toThrow(/no schedule/);
  });

  it('sends nothing more once removed, and a step running then is forgotten', () => {
    const { log } = simulate({ until: T0 + DAY + 10, world: (p) => (p.step === 'delta-merge' ? null : { ok: true }) });
    let s = fold(log);
    expect(s.running?.plan.step).toBe('delta-merge');
    s = [...decide({ type: 'Remove', correlationId: 'r', now: T0 + DAY + 20 }, s)].reduce(evolve, s);
    expect(s.definition).toBeNull();
    expect(decide({ type: 'Tick', now: T0 + 5 * DAY }, s)).toEqual([]);
    expect(commandToSend(s)).toBeNull();
  });
});
