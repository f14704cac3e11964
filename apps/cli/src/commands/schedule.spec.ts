import { registry } from '@deltaflow/contracts';
import { CliUsageError } from '../options';
import { parseCommandLine } from '../program';
import { outcomeOf } from '../outcome';
import { defaultScheduleName, parseDuration, parseStart, renderSchedules } from './schedule';

function plan(...argv: string[]) {
  const parsed = parseCommandLine(argv);
  if (parsed.kind !== 'plan') throw new Error(`${argv.join(' ')}: not a plan`);
  return parsed.plan;
}
function sends(...argv: string[]) {
  const p = plan(...argv);
  if (p.kind !== 'send') throw new Error('not a send plan');
  registry.get(p.message.type)!.validate(p.message);
  return p.message;
}

describe('dsf schedule', () => {
  it('define: durations in compressed or real time, a name, a start', () => {
    expect(sends('schedule', 'define', '--dbid', '1', '--delta-every', '20s', '--cycle', '140s', '--name', 'demo', '--id', 'def-1')).toEqual({
      type: 'ScheduleDefineRequested',
      correlationId: 'def-1',
      dbid: 1,
      scheduleId: 'demo',
      deltaEveryMs: 20_000,
      cycleMs: 140_000,
    });
    const m = sends('schedule', 'define', '--dbid', '7', '--delta-every', '1d', '--cycle', '1w', '--start', '2026-12-07T02:00:00Z', '--json');
    expect(m).toMatchObject({ dbid: 7, deltaEveryMs: 86_400_000, cycleMs: 7 * 86_400_000, startAt: Date.parse('2026-12-07T02:00:00Z'), scheduleId: expect.stringMatching(/^s7-\d{8}-\d{6}$/) });
    expect(sends('schedule', 'remove', '--dbid', '7')).toMatchObject({ type: 'ScheduleRemoveRequested', dbid: 7 });
    expect(plan('schedule', 'list', '--dbid', '3', '--json')).toMatchObject({ kind: 'query', path: '/schedules?dbid=3', json: true });
    expect(plan('schedule', 'list')).toMatchObject({ kind: 'query', path: '/schedules' });
  });

  it.each([
    [['schedule', 'define', '--dbid', '1', '--delta-every', '20', '--cycle', '140s'], /--delta-every: expected a duration/],
    [['schedule', 'define', '--dbid', '1', '--delta-every', '20s', '--cycle', '150s'], /--cycle 150s must be a whole number of --delta-every 20s/],
    [['schedule', 'define', '--dbid', '1', '--delta-every', '20s', '--cycle', '140s', '--start', 'tomorrow'], /--start: expected an ISO 8601 time/],
    [['schedule', 'define', '--dbid', '1', '--delta-every', '20s', '--cycle', '140s', '--name', '../x'], /--name: expected a plain name/],
    [['schedule', 'define', '--dbid', '1', '--delta-every', '500ms', '--cycle', '3500ms'], /deltaEveryMs/],
    [['schedule', 'define', '--dbid', '1', '--cycle', '140s'], /required option '--delta-every <DURATION>'/],
  ])('%j is refused', (argv, message) => {
    expect(() => parseCommandLine(argv as string[])).toThrow(CliUsageError);
    expect(() => parseCommandLine(argv as string[])).toThrow(message as RegExp);
  });

  it('parses durations and start times', () => {
    expect(parseDuration('--x', '1h30m')).toBe(5_400_000);
    expect(parseDuration('--x', '250ms')).toBe(250);
    expect(() => parseDuration('--x', '1.5d')).toThrow(/expected a duration/);
    expect(parseStart('+30s', 1000)).toBe(31_000);
    expect(parseStart('1700000000000', 0)).toBe(1_700_000_000_000);
    expect(defaultScheduleName(4, Date.parse('2026-12-02T03:04:05Z'))).toBe('s4-20261202-030405');
  });

  it('the outcome of define and remove, and the list', () => {
    const defined = outcomeOf({ type: 'ScheduleDefined', correlationId: 'c', dbid: 1, scheduleId: 'demo', deltaEveryMs: 20_000, cycleMs: 140_000, startAt: 0, occurredAt: 1 }, 'ScheduleDefineRequested');
    expect(defined).toMatchObject({ exitCode: 0, json: { ok: true, command: 'schedule define', scheduleId: 'demo' } });
    const rejected = outcomeOf({ type: 'CommandRejected', correlationId: 'c', dbid: 1, commandType: 'ScheduleDefineRequested', code: 'SCHEDULE_EXISTS', reason: 'remove it first', occurredAt: 1 }, 'ScheduleDefineRequested');
    expect(rejected).toMatchObject({ exitCode: 1, lines: ['schedule define rejected: SCHEDULE_EXISTS: remove it first'] });
    const listed = renderSchedules([
      { dbid: 1, scheduleId: 'demo', deltaEveryMs: 20_000, cycleMs: 140_000, startAt: 0, status: 'active', cycle: 2, day: 3, steps: [{ correlationId: 'demo.c2.d3.delta-save', cycle: 2, day: 3, step: 'delta-save', attempt: 1, status: 'completed', output: 'demo.c2.d3', dsid: '2/10/x', startedAt: 0 }] },
    ]);
    expect(listed.lines).toEqual(['DBID\tSCHEDULE\tDELTA EVERY\tCYCLE\tSTATUS\tNOW AT', '1\tdemo\t20s\t140s\tactive\tcycle 2, day 3', '  1970-01-01T00:00:00.000Z  c2 d3 delta-save: completed demo.c2.d3 2/10/x']);
    expect(renderSchedules([], 5).lines.at(-1)).toBe('(no schedule of database 5)');
  });
});
