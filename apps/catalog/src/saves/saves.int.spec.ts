import { fixtureStream } from '../testing/fixture-stream';
import { catalogTestDatabase, fold, rowsOf } from '../testing/projection-test-kit';
import { querySaves, savesProjection } from './saves.projection';

describe('saves read model', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => (db = await catalogTestDatabase()));
  afterEach(() => db.close());

  it('folds the stream into one row per save, ordered by start', async () => {
    await fold(db.ds, savesProjection, fixtureStream(7));
    const saves = await querySaves(db.ds, 7);
    expect(saves.map((s) => [s.correlationId, s.kind, s.online, s.status])).toEqual([
      ['c1', 'full', false, 'completed'],
      ['c2', 'delta', true, 'completed'],
      ['c3', 'delta', false, 'failed'],
      ['c9', undefined, undefined, 'failed'],
      ['m1', 'full', false, 'completed'],
      ['c5', 'full', false, 'completed'],
    ]);
    expect(saves[0]).toMatchObject({ dsid: '1/0/2026-11-22T10:00:00.000Z@L7a', path: 'full-1', blocks: 120, completedAt: Date.UTC(2026, 10, 22, 10, 2) });
    expect(saves[1]).toMatchObject({ path: 'stream:S1/delta-1', startLsn: 100, endLsn: 180 });
    expect(saves[2].reason).toBe('IO: disk full');
    expect(saves[3].dsid).toBeNull();
    expect(await querySaves(db.ds, 8)).toEqual([]);
  });

  it('is idempotent when run twice', async () => {
    await fold(db.ds, savesProjection, fixtureStream(7));
    const once = await rowsOf(db.ds, savesProjection);
    await fold(db.ds, savesProjection, fixtureStream(7));
    expect(await rowsOf(db.ds, savesProjection)).toEqual(once);
    expect(once).toHaveLength(6);
  });

  it('never moves a save out of a final state (late or redelivered events)', async () => {
    const events = fixtureStream(7);
    await fold(db.ds, savesProjection, events);
    const started = events.find((e) => e.type === 'SaveStarted' && e.correlationId === 'c1')!;
    const failed = { type: 'SaveFailed' as const, correlationId: 'c1', dbid: 7, code: 'IO', reason: 'late', occurredAt: 1 };
    await fold(db.ds, savesProjection, [started, failed]);
    expect((await querySaves(db.ds, 7))[0]).toMatchObject({ correlationId: 'c1', status: 'completed' });
  });
});
