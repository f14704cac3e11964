import type { Decider } from '@deltaflow/core';
import type { Dsid } from '@deltaflow/dsid';
import { SaveChainError } from '../errors';

/*
 * The seed's sample schedule ("Sample Schedule for Save and Merge Operations") of one database, as
 * a decider:
 *
 *   1. a cycle starts with a full save (online: its DSIM is unloaded to a data set, seed step 1);
 *   2. a delta save (online) every `deltaEveryMs`, a "day";
 *   3./4. each new delta is merged with its original DSIM (`@dsim`, which the merge frees for the
 *      next online save) and the consolidated delta of the cycle into a new consolidated delta,
 *      which holds every block changed since the cycle's full save (seed steps 2 and 3);
 *   5. once a cycle (`cycleMs`, a "week": cycleMs / deltaEveryMs days), after the last day's merge,
 *      the full save (with its unloaded DSIM when it was online) and the consolidated delta are
 *      merged into a new full save;
 *   6. that merged full save starts the next cycle (no new full save is taken).
 *
 * So at any time the cycle's full save, its consolidated delta and the delta not yet merged (with
 * `@dsim`) restore the database as of the last delta save (seed: "Restoring Delta Save Output").
 *
 * One step runs at a time. A step is decided (ScheduleStepStarted), its command is sent with a
 * correlation id derived from (schedule, cycle, day, step, attempt), and its outcome, observed on
 * dsf.events, completes or fails it. Everything the decider needs is in the log: the schedule's
 * own events, the step commands seen on dsf.commands (`CommandSeen`) and their outcomes
 * (`OutcomeObserved`); deciding again from the same log decides the same (idempotent).
 *
 * Cycles lie on a grid from the start (cycle c at startAt + (c-1)·cycleMs); a cycle's days count
 * from its place on the grid, or from when its full save became usable (DSIM unloaded, cycle merge
 * done) when that is later, so a slow full save or merge does not eat the cycle's first days. Days
 * missed (the scheduler was down, a step ran long) are not caught up one by one: the next delta
 * is the latest day slot already due (its changes are in it anyway); a cycle whose merge comes
 * more than a cycle late starts at the last cycle boundary before it. A failed step is tried again after
 * `retryDelayMs(definition)` and the schedule halts after MAX_ATTEMPTS failures in a row.
 */

export type ScheduleStepKind = 'full-save' | 'full-dsim-unload' | 'delta-save' | 'delta-merge' | 'cycle-merge';

export interface ScheduleDefinition {
  readonly scheduleId: string;
  readonly dbid: number;
  readonly deltaEveryMs: number;
  readonly cycleMs: number;
  readonly startAt: number;
}

/** The command a step sends (the service adds dbid and correlationId). */
export type StepCommand =
  | { readonly type: 'SaveRequested'; readonly kind: 'full' | 'delta'; readonly online: true; readonly output: string }
  | { readonly type: 'DsimUnloadRequested'; readonly output: string }
  | { readonly type: 'MergeRequested'; readonly inputs: readonly string[]; readonly output: string; readonly full: boolean; readonly dsimWaitSec: number };

export interface StepPlan {
  readonly correlationId: string;
  readonly cycle: number;
  readonly day: number;
  readonly step: ScheduleStepKind;
  readonly attempt: number;
  readonly dueAt: number;
  readonly command: StepCommand;
}

export type StepOutcome = { readonly ok: true; readonly dsid?: Dsid } | { readonly ok: false; readonly code: string; readonly reason: string };

export type ScheduleEvent =
  | ({ readonly type: 'ScheduleDefined'; readonly correlationId: string; readonly occurredAt: number } & ScheduleDefinition)
  | { readonly type: 'ScheduleRemoved'; readonly correlationId: string; readonly scheduleId: string; readonly occurredAt: number }
  | ({ readonly type: 'ScheduleStepStarted'; readonly scheduleId: string; readonly occurredAt: number } & StepPlan)
  | {
      readonly type: 'ScheduleStepCompleted';
      readonly scheduleId: string;
      readonly correlationId: string;
      readonly cycle: number;
      readonly day: number;
      readonly step: ScheduleStepKind;
      readonly output: string;
      readonly dsid?: Dsid;
      readonly occurredAt: number;
    }
  | {
      readonly type: 'ScheduleStepFailed';
      readonly scheduleId: string;
      readonly correlationId: string;
      readonly cycle: number;
      readonly day: number;
      readonly step: ScheduleStepKind;
      readonly attempt: number;
      readonly code: string;
      readonly reason: string;
      readonly retryAt?: number;
      readonly occurredAt: number;
    }
  | { readonly type: 'ScheduleHalted'; readonly scheduleId: string; readonly correlationId: string; readonly code: string; readonly reason: string; readonly occurredAt: number }
  /** a command with this correlation id is on dsf.commands (facts fed from the log, never published) */
  | { readonly type: 'CommandSeen'; readonly correlationId: string }
  /** its outcome is on dsf.events */
  | { readonly type: 'OutcomeObserved'; readonly correlationId: string; readonly outcome: StepOutcome; readonly occurredAt: number };

export type ScheduleCommand =
  | { readonly type: 'Define'; readonly correlationId: string; readonly definition: ScheduleDefinition; readonly now: number }
  | { readonly type: 'Remove'; readonly correlationId: string; readonly now: number }
  /** what is due at `now`: a step to start, or the outcome of the running one to record */
  | { readonly type: 'Tick'; readonly now: number };

export interface RunningStep {
  readonly plan: StepPlan;
  readonly outcome?: StepOutcome & { readonly at: number };
}

export interface ScheduleState {
  readonly definition: ScheduleDefinition | null;
  readonly halted: { readonly code: string; readonly reason: string } | null;
  readonly cycle: number;
  /** where the cycle lies on the grid of cycles from the start */
  readonly cycleStart: number;
  /** when the cycle's full save became usable (its DSIM unloaded, or the cycle merge done): days count from here when it is later than cycleStart */
  readonly readyAt: number | null;
  /** the cycle's full save (online: with its unloaded DSIM once unloaded) */
  readonly full: { readonly name: string; readonly online: boolean; readonly dsim: string | null } | null;
  /** the cycle's consolidated delta (every block changed since the full save, through `day`) */
  readonly consolidated: string | null;
  /** the last day whose delta save completed */
  readonly day: number;
  /** a delta saved and not merged yet (with its original DSIM) */
  readonly unmerged: { readonly day: number; readonly name: string } | null;
  readonly running: RunningStep | null;
  /** failures in a row, and when the failed step may be tried again */
  readonly failures: number;
  readonly retryAt: number | null;
  /** step command correlation ids seen on dsf.commands (only the running step's are kept past its start) */
  readonly sent: ReadonlySet<string>;
}

export const MAX_ATTEMPTS = 5;
/** How long a merge with `@dsim` waits for the DSIM of its delta to complete (DSIMWAIT). */
export const DSIM_WAIT_SEC = 300;

export const initialState = (): ScheduleState => ({
  definition: null,
  halted: null,
  cycle: 1,
  cycleStart: 0,
  readyAt: null,
  full: null,
  consolidated: null,
  day: 0,
  unmerged: null,
  running: null,
  failures: 0,
  retryAt: null,
  sent: new Set(),
});

/** The number of days of a cycle. */
export const daysPerCycle = (d: Pick<ScheduleDefinition, 'deltaEveryMs' | 'cycleMs'>): number => Math.floor(d.cycleMs / d.deltaEveryMs);

/** A failed step is tried again after a quarter day, between 1 s and 15 minutes. */
export const retryDelayMs = (d: Pick<ScheduleDefinition, 'deltaEveryMs'>): number => Math.min(15 * 60_000, Math.max(1000, Math.floor(d.deltaEveryMs / 4)));

/** Checks a definition; throws SaveChainError VALIDATION naming what is wrong. */
export function validateDefinition(d: ScheduleDefinition): void {
  const bad = (m: string) => {
    throw new SaveChainError('VALIDATION', m);
  };
  if (!Number.isInteger(d.deltaEveryMs) || d.deltaEveryMs < 1000) bad(`the delta interval must be a whole number of ms, at least 1 s (got ${d.deltaEveryMs})`);
  if (!Number.isInteger(d.cycleMs) || d.cycleMs < d.deltaEveryMs) bad(`the cycle (${d.cycleMs} ms) must be at least one delta interval (${d.deltaEveryMs} ms)`);
  if (d.cycleMs % d.deltaEveryMs !== 0) bad(`the cycle (${d.cycleMs} ms) must be a whole number of delta intervals (${d.deltaEveryMs} ms): a week of days`);
  if (daysPerCycle(d) > 1000) bad(`a cycle of ${daysPerCycle(d)} delta intervals is too long (at most 1000)`);
  if (!Number.isInteger(d.startAt) || d.startAt < 0) bad(`the start must be a time in ms since the epoch (got ${d.startAt})`);
}

/** The data set names of a schedule: `<id>.c<cycle>.full`, `.full.dsim`, `.d<day>`, `.cd<day>` (consolidated through that day). */
export const dataSetName = {
  full: (id: string, cycle: number) => `${id}.c${cycle}.full`,
  fullDsim: (id: string, cycle: number) => `${id}.c${cycle}.full.dsim`,
  delta: (id: string, cycle: number, day: number) => `${id}.c${cycle}.d${day}`,
  consolidated: (id: string, cycle: number, day: number) => `${id}.c${cycle}.cd${day}`,
};

/** The correlation id of a step's command (its save's sync ids are `<id>.start` / `<id>.end`). */
export const stepCorrelationId = (id: string, cycle: number, day: number, step: ScheduleStepKind, attempt: number): string =>
  `${id}.c${cycle}.d${day}.${step}${attempt > 1 ? `.a${attempt}` : ''}`;

/** The command of a step, from what its ScheduleStepStarted records (the step, its output and inputs). */
export function commandOf(step: ScheduleStepKind, output: string, inputs: readonly string[] = []): StepCommand {
  switch (step) {
    case 'full-save':
    case 'delta-save':
      return { type: 'SaveRequested', kind: step === 'full-save' ? 'full' : 'delta', online: true, output };
    case 'full-dsim-unload':
      return { type: 'DsimUnloadRequested', output };
    case 'delta-merge':
    case 'cycle-merge':
      return { type: 'MergeRequested', inputs: [...inputs], output, full: step === 'cycle-merge', dsimWaitSec: step === 'cycle-merge' ? 0 : DSIM_WAIT_SEC };
  }
}

/** The next step of the schedule (due now or later), or null when there is none (no schedule, halted, a step running). */
export function nextStep(s: ScheduleState, now: number): StepPlan | null {
  const d = s.definition;
  if (d === null || s.halted !== null || s.running !== null) return null;
  const id = d.scheduleId;
  const attempt = s.failures + 1;
  const after = (due: number) => Math.max(due, s.retryAt ?? due);
  const plan = (step: ScheduleStepKind, day: number, dueAt: number, output: string, inputs?: string[]): StepPlan => ({
    correlationId: stepCorrelationId(id, s.cycle, day, step, attempt),
    cycle: s.cycle,
    day,
    step,
    attempt,
    dueAt: after(dueAt),
    command: commandOf(step, output, inputs),
  });
  if (s.full === null) return plan('full-save', 0, s.cycleStart, dataSetName.full(id, s.cycle));
  if (s.full.online && s.full.dsim === null) return plan('full-dsim-unload', 0, s.cycleStart, dataSetName.fullDsim(id, s.cycle));
  if (s.unmerged !== null) {
    const inputs = [...(s.consolidated !== null ? [s.consolidated] : []), s.unmerged.name, '@dsim'];
    return plan('delta-merge', s.unmerged.day, s.cycleStart, dataSetName.consolidated(id, s.cycle, s.unmerged.day), inputs);
  }
  const days = daysPerCycle(d);
  if (s.day >= days && s.consolidated !== null) {
    const inputs = [s.full.name, ...(s.full.dsim !== null ? [s.full.dsim] : []), s.consolidated];
    return plan('cycle-merge', s.day, s.cycleStart, dataSetName.full(id, s.cycle + 1), inputs);
  }
  // the next day: the one after the last delta, or the latest slot already due (missed days collapse);
  // days count from the cycle's start on the grid, or from when its full save was ready if later
  const from = Math.max(s.cycleStart, s.readyAt ?? s.cycleStart);
  const slot = Math.floor((now - from) / d.deltaEveryMs);
  const day = Math.min(days, Math.max(s.day + 1, slot));
  return plan('delta-save', day, from + day * d.deltaEveryMs, dataSetName.delta(id, s.cycle, day));
}

export function decide(c: ScheduleCommand, s: ScheduleState): ScheduleEvent[] {
  switch (c.type) {
    case 'Define': {
      validateDefinition(c.definition);
      if (s.definition !== null) {
        if (s.definition.scheduleId === c.definition.scheduleId) return []; // redelivered
        throw new SaveChainError('SCHEDULE_EXISTS', `database ${s.definition.dbid} already runs schedule ${s.definition.scheduleId}: remove it first`);
      }
      return [{ type: 'ScheduleDefined', correlationId: c.correlationId, ...c.definition, occurredAt: c.now }];
    }
    case 'Remove':
      if (s.definition === null) throw new SaveChainError('NO_SCHEDULE', 'the database has no schedule');
      return [{ type: 'ScheduleRemoved', correlationId: c.correlationId, scheduleId: s.definition.scheduleId, occurredAt: c.now }];
    case 'Tick':
      return tick(s, c.now);
  }
}

function tick(s: ScheduleState, now: number): ScheduleEvent[] {
  const d = s.definition;
  if (d === null || s.halted !== null) return [];
  const r = s.running;
  if (r !== null) {
    if (r.outcome === undefined) return [];
    const p = r.plan;
    const at = { scheduleId: d.scheduleId, correlationId: p.correlationId, cycle: p.cycle, day: p.day, step: p.step };
    if (r.outcome.ok) return [{ type: 'ScheduleStepCompleted', ...at, output: p.command.output, ...(r.outcome.dsid ? { dsid: r.outcome.dsid } : {}), occurredAt: r.outcome.at }];
    const halt = p.attempt >= MAX_ATTEMPTS;
    const failed: ScheduleEvent = {
      type: 'ScheduleStepFailed',
      ...at,
      attempt: p.attempt,
      code: r.outcome.code,
      reason: r.outcome.reason,
      ...(halt ? {} : { retryAt: r.outcome.at + retryDelayMs(d) }),
      occurredAt: r.outcome.at,
    };
    if (!halt) return [failed];
    const reason = `step ${p.step} (cycle ${p.cycle}, day ${p.day}) failed ${p.attempt} times, the last with ${r.outcome.code}: ${r.outcome.reason}`;
    return [failed, { type: 'ScheduleHalted', scheduleId: d.scheduleId, correlationId: p.correlationId, code: r.outcome.code, reason: reason.slice(0, 4000), occurredAt: r.outcome.at }];
  }
  const next = nextStep(s, now);
  if (next === null || next.dueAt > now) return [];
  return [{ type: 'ScheduleStepStarted', scheduleId: d.scheduleId, ...next, occurredAt: now }];
}

/** The command the running step still has to send (decided, not seen on dsf.commands yet), or null. */
export function commandToSend(s: ScheduleState): StepPlan | null {
  const r = s.running;
  if (s.definition === null || r === null || r.outcome !== undefined || s.sent.has(r.plan.correlationId)) return null;
  return r.plan;
}

/** The data sets that restore the database as of the last completed delta save (seed: RESTORE DELTA inputs). */
export function restoreInputs(s: ScheduleState): string[] {
  if (s.full === null || (s.full.online && s.full.dsim === null)) return [];
  return [s.full.name, ...(s.full.dsim !== null ? [s.full.dsim] : []), ...(s.consolidated !== null ? [s.consolidated] : []), ...(s.unmerged !== null ? [s.unmerged.name, '@dsim'] : [])];
}

export function evolve(s: ScheduleState, e: ScheduleEvent): ScheduleState {
  switch (e.type) {
    case 'ScheduleDefined': {
      const { type: _t, correlationId: _c, occurredAt: _o, ...definition } = e;
      return { ...initialState(), definition, cycleStart: e.startAt };
    }
    case 'ScheduleRemoved':
      return mine(s, e.scheduleId) ? initialState() : s;
    case 'CommandSeen':
      if (s.definition === null || !e.correlationId.startsWith(`${s.definition.scheduleId}.`)) return s;
      return { ...s, sent: new Set([...s.sent, e.correlationId]) };
    case 'OutcomeObserved': {
      const r = s.running;
      if (r === null || r.outcome !== undefined || r.plan.correlationId !== e.correlationId) return s;
      return { ...s, running: { ...r, outcome: { ...e.outcome, at: e.occurredAt } } };
    }
    case 'ScheduleStepStarted': {
      if (!mine(s, e.scheduleId) || s.running?.plan.correlationId === e.correlationId) return s;
      const { type: _t, scheduleId: _s, occurredAt: _o, ...plan } = e;
      // commands of earlier steps are forgotten; this one's may have been read first
      return { ...s, running: { plan }, sent: new Set(s.sent.has(e.correlationId) ? [e.correlationId] : []) };
    }
    case 'ScheduleStepFailed':
      if (!mine(s, e.scheduleId) || s.running?.plan.correlationId !== e.correlationId) return s;
      return { ...s, running: null, failures: s.failures + 1, retryAt: e.retryAt ?? null };
    case 'ScheduleHalted':
      return mine(s, e.scheduleId) ? { ...s, running: null, halted: { code: e.code, reason: e.reason } } : s;
    case 'ScheduleStepCompleted': {
      if (!mine(s, e.scheduleId) || s.running?.plan.correlationId !== e.correlationId) return s;
      const done = { ...s, running: null, failures: 0, retryAt: null };
      switch (e.step) {
        case 'full-save':
          return { ...done, full: { name: e.output, online: true, dsim: null } };
        case 'full-dsim-unload':
          return s.full ? { ...done, full: { ...s.full, dsim: e.output }, readyAt: e.occurredAt } : done;
        case 'delta-save':
          return { ...done, day: e.day, unmerged: { day: e.day, name: e.output } };
        case 'delta-merge':
          return { ...done, consolidated: e.output, unmerged: null };
        case 'cycle-merge': {
          const cycleMs = s.definition!.cycleMs;
          const cycles = Math.max(1, Math.floor((e.occurredAt - s.cycleStart) / cycleMs));
          return {
            ...done,
            cycle: s.cycle + 1,
            cycleStart: s.cycleStart + cycles * cycleMs,
            readyAt: e.occurredAt,
            full: { name: e.output, online: false, dsim: null },
            consolidated: null,
            day: 0,
            unmerged: null,
          };
        }
      }
    }
  }
  return s;
}

const mine = (s: ScheduleState, scheduleId: string) => s.definition !== null && s.definition.scheduleId === scheduleId;

export const schedule: Decider<ScheduleCommand, ScheduleEvent, ScheduleState> = { decide, evolve, initialState };
