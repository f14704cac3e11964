/**
 * The sample schedule (seed: "Sample Schedule for Save and Merge Operations") as messages: its
 * commands on dsf.commands (define, remove; answered by the scheduler) and the runs of its steps
 * on dsf.events, so that the catalog (and the console) can show them. Key: dbid.
 *
 * A step's `correlationId` is the correlation id of the command the step sent (a save, a DSIM
 * unload or a merge), derived from the schedule, its cycle, day, step and attempt: the same step
 * decided twice (a restarted scheduler) sends the same command, which its service handles once.
 */
import { dbid, DsidSchema, errorCode, id, name, text, timestamp } from '../common';
import { defineMessage } from '../define';
import { array, boolean, enumOf, int, optional, posint, string } from '../schema';

/** The steps of a cycle (see libs/save-chain schedule/). */
export const SCHEDULE_STEPS = ['full-save', 'full-dsim-unload', 'delta-save', 'delta-merge', 'cycle-merge'] as const;
export type ScheduleStepKind = (typeof SCHEDULE_STEPS)[number];

/** One day is at least a second, a cycle at most 1000 days (compressed time: `--delta-every 20s --cycle 140s`). */
const interval = () => int({ min: 1000, max: 1000 * 86_400_000 });
const stepFields = { dbid: dbid(), scheduleId: name(), cycle: posint(), day: int({ min: 0, max: 1000 }), step: enumOf(SCHEDULE_STEPS) };
const inputNames = () => array(string({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 16 });

/** Define the sample schedule of a database: a cycle of `cycleMs` starting at `startAt` (default: now) with a delta save every `deltaEveryMs`. */
export const ScheduleDefineRequested = defineMessage({
  type: 'ScheduleDefineRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid(), scheduleId: name(), deltaEveryMs: interval(), cycleMs: interval(), startAt: optional(timestamp()) },
});

/** Stop the database's schedule: no further step is sent (a step already sent runs to its end). */
export const ScheduleRemoveRequested = defineMessage({
  type: 'ScheduleRemoveRequested',
  version: 1,
  topic: 'dsf.commands',
  fields: { correlationId: id(), dbid: dbid() },
});

export const ScheduleDefined = defineMessage({
  type: 'ScheduleDefined',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), scheduleId: name(), deltaEveryMs: interval(), cycleMs: interval(), startAt: timestamp(), occurredAt: timestamp() },
});

export const ScheduleRemoved = defineMessage({
  type: 'ScheduleRemoved',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), scheduleId: name(), occurredAt: timestamp() },
});

/** A step was decided; its command (`commandType`, to `output`) is sent right after. */
export const ScheduleStepStarted = defineMessage({
  type: 'ScheduleStepStarted',
  version: 1,
  topic: 'dsf.events',
  fields: {
    correlationId: id(),
    ...stepFields,
    attempt: posint(),
    commandType: enumOf(['SaveRequested', 'DsimUnloadRequested', 'MergeRequested'] as const),
    online: optional(boolean()),
    inputs: optional(inputNames()),
    output: name(),
    dueAt: timestamp(),
    occurredAt: timestamp(),
  },
});

export const ScheduleStepCompleted = defineMessage({
  type: 'ScheduleStepCompleted',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), ...stepFields, output: name(), dsid: optional(DsidSchema), occurredAt: timestamp() },
});

/** A step's command failed or was refused; it is tried again at `retryAt` unless the schedule halts. */
export const ScheduleStepFailed = defineMessage({
  type: 'ScheduleStepFailed',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), ...stepFields, attempt: posint(), code: errorCode(), reason: text(), retryAt: optional(timestamp()), occurredAt: timestamp() },
});

/** The schedule stopped after a step failed too often; define it again to restart it. */
export const ScheduleHalted = defineMessage({
  type: 'ScheduleHalted',
  version: 1,
  topic: 'dsf.events',
  fields: { correlationId: id(), dbid: dbid(), scheduleId: name(), code: errorCode(), reason: text(), occurredAt: timestamp() },
});

export const SCHEDULE_COMMAND_MESSAGES = [ScheduleDefineRequested, ScheduleRemoveRequested] as const;
export const SCHEDULE_EVENT_MESSAGES = [ScheduleDefined, ScheduleRemoved, ScheduleStepStarted, ScheduleStepCompleted, ScheduleStepFailed, ScheduleHalted] as const;
