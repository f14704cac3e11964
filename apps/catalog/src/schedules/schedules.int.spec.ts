import type { CatalogEvent } from '../projection';
import { catalogTestDatabase, fold, rowsOf } from '../testing/projection-test-kit';
import { querySchedules, schedulesProjection } from './schedules.projection';

const dsid = { full: 1, deltaFrom: 0, deltaTo: 7, timestamp: Date.parse('2026-12-02T03:00:00Z'), lineage: 'L1' };
const step = (correlationId: string, cycle: number, day: number, s: 'full-save' | 'delta-save' | 'delta-merge' | 'cycle-merge', at: number, extra: object = {}): CatalogEvent =>
  ({
    type: 'ScheduleStepStarted',
    correlationId,
    dbid: 3,
    scheduleId: 'demo',
    cycle,
    day,
    step: s,
    attempt: 1,
    commandType: s.endsWith('merge') ? 'MergeRequested' : 'SaveRequested',
    output: `demo.c${cycle}.${s}`,
    dueAt: at,
    occurredAt: at,
    ...extra,
  }) as CatalogEvent;
const events: CatalogEvent[] = [
  { type: 'ScheduleDefined', correlationId: 'def', dbid: 3, scheduleId: 'demo', deltaEveryMs: 20_000, cycleMs: 140_000, startAt: 1000, occurredAt: 900 },
  step('demo.c1.d0.full-save', 1, 0, 'full-save', 1000),
  { type: 'ScheduleStepCompleted', correlationId: 'demo.c1.d0.full-save', dbid: 3, scheduleId: 'demo', cycle: 1, day: 0, step: 'full-save', output: 'demo.c1.full', dsid, occurredAt: 1500 },
  step('demo.c1.d7.cycle-merge', 1, 7, 'cycle-merge', 141_000, { inputs: ['demo.c1.full', 'demo.c1.full.dsim', 'demo.c1.cd7'] }),
  { type: 'ScheduleStepCompleted', correlationId: 'demo.c1.d7.cycle-merge', dbid: 3, scheduleId: 'demo', cycle: 1, day: 7, step: 'cycle-merge', output: 'demo.c2.full', dsid, occurredAt: 142_000 },
  step('demo.c2.d1.delta-save', 2, 1, 'delta-save', 161_000),
  { type: 'ScheduleStepFailed', correlationId: 'demo.c2.d1.delta-save', dbid: 3, scheduleId: 'demo', cycle: 2, day: 1, step: 'delta-save', attempt: 1, code: 'DSIM_IN_USE', reason: 'busy', retryAt: 166_000, occurredAt: 162_000 },
  { type: 'ScheduleHalted', correlationId: 'demo.c2.d1.delta-save', dbid: 3, scheduleId: 'demo', code: 'DSIM_IN_USE', reason: 'failed 5 times', occurredAt: 170_000 },
];

describe('schedules read model', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => (db = await catalogTestDatabase()));
  afterEach(() => db.close());

  it('shows a schedule\'s steps with their outcome and DSID, the cycle it reached and why it halted', async () => {
    await fold(db.ds, schedulesProjection, events.slice(0, 5));
    const [s] = await querySchedules(db.ds, { dbid: 3 });
    expect(s).toMatchObject({ scheduleId: 'demo', status: 'active', cycle: 2, day: 0, deltaEveryMs: 20_000, cycleMs: 140_000 });
    expect(s.steps.map((x) => [x.step, x.status, x.dsid])).toEqual([
      ['full-save', 'completed', '1/0-7/2026-12-02T03:00:00.000Z@L1'],
      ['cycle-merge', 'completed', '1/0-7/2026-12-02T03:00:00.000Z@L1'],
    ]);
    expect(s.steps[1].inputs).toEqual(['demo.c1.full', 'demo.c1.full.dsim', 'demo.c1.cd7']);
    await fold(db.ds, schedulesProjection, events.slice(5));
    const [h] = await querySchedules(db.ds);
    expect(h).toMatchObject({ status: 'halted', reason: 'failed 5 times', cycle: 2, day: 1 });
    expect(h.steps.at(-1)).toMatchObject({ step: 'delta-save', status: 'failed', code: 'DSIM_IN_USE', retryAt: 166_000 });
    expect(await querySchedules(db.ds, { dbid: 4 })).toEqual([]);
    expect((await querySchedules(db.ds, { dbid: 3, steps: 1 }))[0].steps.map((x) => x.correlationId)).toEqual(['demo.c2.d1.delta-save']);
  });

  it('is idempotent when run twice', async () => {
    await fold(db.ds, schedulesProjection, events);
    const once = await rowsOf(db.ds, schedulesProjection);
    await fold(db.ds, schedulesProjection, events);
    expect(await rowsOf(db.ds, schedulesProjection)).toEqual(once);
    expect(once).toHaveLength(4);
  });
});
