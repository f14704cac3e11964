import { restoreStream } from '../testing/fixture-stream';
import { catalogTestDatabase, fold, rowsOf } from '../testing/projection-test-kit';
import { queryRestores, restoresProjection } from './restores.projection';

describe('restores read model', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => (db = await catalogTestDatabase()));
  afterEach(() => db.close());

  it('folds restores, shadows and regenerations, with their outcome', async () => {
    await fold(db.ds, restoresProjection, restoreStream(7));
    const rs = await queryRestores(db.ds, 7);
    expect(rs.map((r) => [r.correlationId, r.kind, r.status, r.intoDatabase])).toEqual([
      ['r1', 'restore', 'completed', true],
      ['r2', 'restore', 'interrupted', false],
      ['s1', 'shadow', 'completed', false],
      ['g1', 'regenerate', 'completed', false],
    ]);
    expect(rs[0]).toMatchObject({ target: 'db', dsid: '1/0/2026-11-22T10:00:00.000Z@L7a', digest: 'cafe0123babe', inputs: ['full-1', 'delta-1'] });
    expect(rs[1].reason).toMatch(/ENGINE_RESTARTED/);
    expect(rs[3]).toMatchObject({ target: 'sh1', fromLsn: 180, toLsn: 250 });
    expect(await queryRestores(db.ds, 8)).toEqual([]);
  });

  it('is idempotent when run twice', async () => {
    await fold(db.ds, restoresProjection, restoreStream(7));
    const once = await rowsOf(db.ds, restoresProjection);
    await fold(db.ds, restoresProjection, restoreStream(7));
    expect(await rowsOf(db.ds, restoresProjection)).toEqual(once);
    expect(once).toHaveLength(4);
  });
});
