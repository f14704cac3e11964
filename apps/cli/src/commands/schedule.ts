/**
 * `dsf schedule define | list | remove`: the seed's sample schedule of a database, run by the
 * scheduler (ScheduleDefineRequested / ScheduleRemoveRequested), its runs from the catalog
 * (GET /schedules).
 */
import { Option, type Command } from 'commander';
import { isSafeName } from '@deltaflow/core';
import { CliUsageError, dbidArg, QUERY_TIMEOUT_SEC, timeoutArg, withCommonOptions, type CommonOptions } from '../options';
import { correlationIdOf, sendPlan, type CommandGroup, type Plan } from '../plan';
import type { Outcome } from '../outcome';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `20s`, `1d`, `7d`, `1h30m`, `500ms`: a duration in ms. */
export function parseDuration(flag: string, v: string): number {
  const parts = /^(?:\d+(?:ms|s|m|h|d|w))+$/.test(v) ? [...v.matchAll(/(\d+)(ms|s|m|h|d|w)/g)] : [];
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]], 0);
  if (parts.length === 0 || !Number.isSafeInteger(ms)) throw new CliUsageError(`${flag}: expected a duration such as 1d, 7d, 20s, 1h30m (units ms, s, m, h, d, w), got ${JSON.stringify(v)}`);
  return ms;
}

/** `--start`: an ISO 8601 time, ms since the epoch, or +DURATION from now. */
export function parseStart(v: string, now: number): number {
  if (v.startsWith('+')) return now + parseDuration('--start', v.slice(1));
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new CliUsageError(`--start: expected an ISO 8601 time (2026-12-02T03:00:00Z), ms since the epoch or +DURATION, got ${JSON.stringify(v)}`);
  return t;
}

const MAX_NAME = 40;
function scheduleNameArg(v: string): string {
  if (!isSafeName(v, MAX_NAME)) throw new CliUsageError(`--name: expected a plain name of [A-Za-z0-9._-] (1..${MAX_NAME}, starting with a letter or digit), got ${JSON.stringify(v)}`);
  return v;
}

/** The default name of a schedule: `s<dbid>-<UTC yyyymmdd-hhmmss>`, the prefix of its data sets. */
export const defaultScheduleName = (dbid: number, now: number): string => `s${dbid}-${new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;

interface DefineOptions extends CommonOptions {
  dbid: number;
  deltaEvery: string;
  cycle: string;
  start?: string;
  name?: string;
}

/** One schedule as the catalog lists it (apps/catalog schedules/ ScheduleView). */
interface ScheduleRow {
  dbid: number;
  scheduleId: string;
  deltaEveryMs: number;
  cycleMs: number;
  startAt: number;
  status: string;
  cycle: number;
  day: number;
  reason?: string;
  steps: Array<{ correlationId: string; cycle: number; day: number; step: string; attempt: number; status: string; output: string; dsid?: string; code?: string; startedAt: number }>;
}

const human = (ms: number) => {
  for (const [u, f] of [['w', UNITS.w], ['d', UNITS.d], ['h', UNITS.h], ['m', UNITS.m], ['s', UNITS.s]] as const) if (ms % f === 0) return `${ms / f}${u}`;
  return `${ms}ms`;
};

export function renderSchedules(body: unknown, dbid?: number): Outcome {
  if (!Array.isArray(body)) throw new Error('the catalog answered something that is not a list of schedules');
  const schedules = body as ScheduleRow[];
  const lines = [['DBID', 'SCHEDULE', 'DELTA EVERY', 'CYCLE', 'STATUS', 'NOW AT'].join('\t')];
  for (const s of schedules) {
    lines.push([s.dbid, s.scheduleId, human(s.deltaEveryMs), human(s.cycleMs), s.status + (s.reason ? ` (${s.reason})` : ''), `cycle ${s.cycle}, day ${s.day}`].join('\t'));
    for (const r of s.steps.slice(-10)) lines.push(`  ${new Date(r.startedAt).toISOString()}  c${r.cycle} d${r.day} ${r.step}${r.attempt > 1 ? ` (attempt ${r.attempt})` : ''}: ${r.status} ${r.output}${r.dsid ? ` ${r.dsid}` : ''}${r.code ? ` ${r.code}` : ''}`);
  }
  if (schedules.length === 0) lines.push(dbid === undefined ? '(no schedules)' : `(no schedule of database ${dbid})`);
  return { exitCode: 0, lines, json: { ok: true, command: 'schedule list', ...(dbid !== undefined ? { dbid } : {}), schedules } };
}

export const scheduleCommand: CommandGroup = {
  register(program: Command, use: (plan: Plan) => void) {
    const group = program.command('schedule').summary('run the sample schedule of a database (full save, daily deltas, weekly merge)');

    const define = group
      .command('define')
      .summary('start the sample schedule of a database')
      .description(
        'The seed\'s sample schedule, run by the scheduler: a cycle starts with an online full save (its DSIM unloaded); every DURATION of --delta-every an online delta save, ' +
          'merged with its DSIM and the consolidated delta of the cycle into a new consolidated delta; once a cycle (--cycle) the full save and the consolidated delta are merged into ' +
          'a new full save, which starts the next cycle. Data sets are named NAME.c<cycle>.full, .full.dsim, .d<day>, .cd<day>. Compressed time works: --delta-every 20s --cycle 140s.',
      )
      .addOption(new Option('--dbid <N>', 'database id (1..65535)').argParser(dbidArg).makeOptionMandatory())
      .addOption(new Option('--delta-every <DURATION>', 'a delta save every DURATION (a "day"; e.g. 1d, 20s)').makeOptionMandatory())
      .addOption(new Option('--cycle <DURATION>', 'the cycle (a "week"), a whole number of --delta-every (e.g. 7d, 140s)').makeOptionMandatory())
      .option('--start <TIME>', 'when the first full save is due: ISO 8601, ms since the epoch or +DURATION (default: now)')
      .addOption(new Option('--name <NAME>', `the schedule's name, the prefix of its data sets (default s<dbid>-<UTC time>)`).argParser(scheduleNameArg));
    withCommonOptions(define).action((o: DefineOptions) => {
      const now = Date.now();
      const deltaEveryMs = parseDuration('--delta-every', o.deltaEvery);
      const cycleMs = parseDuration('--cycle', o.cycle);
      if (cycleMs % deltaEveryMs !== 0) throw new CliUsageError(`--cycle ${o.cycle} must be a whole number of --delta-every ${o.deltaEvery}`);
      use(
        sendPlan(
          {
            type: 'ScheduleDefineRequested',
            correlationId: correlationIdOf(o),
            dbid: o.dbid,
            scheduleId: o.name ?? defaultScheduleName(o.dbid, now),
            deltaEveryMs,
            cycleMs,
            ...(o.start !== undefined ? { startAt: parseStart(o.start, now) } : {}),
          },
          o,
        ),
      );
    });

    const remove = group
      .command('remove')
      .summary('stop the schedule of a database')
      .description('Stops the schedule of database N: no further step is sent; a step already sent runs to its end. Its data sets stay.')
      .addOption(new Option('--dbid <N>', 'database id (1..65535)').argParser(dbidArg).makeOptionMandatory());
    withCommonOptions(remove).action((o: CommonOptions & { dbid: number }) => use(sendPlan({ type: 'ScheduleRemoveRequested', correlationId: correlationIdOf(o), dbid: o.dbid }, o)));

    group
      .command('list')
      .summary('list the schedules and their recent steps (from the catalog)')
      .description('Lists the schedules (of database N with --dbid) as the catalog knows them (GET $CATALOG_URL/schedules), each with its last steps.')
      .addOption(new Option('--dbid <N>', 'only this database').argParser(dbidArg))
      .option('--json', 'print {ok, schedules: [...]} as one JSON object (every step of each)')
      .addOption(new Option('--timeout <SEC>', `give up on the catalog after SEC seconds (default ${QUERY_TIMEOUT_SEC})`).argParser(timeoutArg))
      .action((o: CommonOptions & { dbid?: number }) =>
        use({
          kind: 'query',
          path: `/schedules${o.dbid !== undefined ? `?dbid=${o.dbid}` : ''}`,
          json: o.json === true,
          timeoutSec: o.timeout ?? QUERY_TIMEOUT_SEC,
          render: (body) => renderSchedules(body, o.dbid),
        }),
      );
  },
};
