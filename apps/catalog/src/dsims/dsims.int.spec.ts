import { fixtureStream } from '../testing/fixture-stream';
import { catalogTestDatabase, fold, rowsOf } from '../testing/projection-test-kit';
import { dsimsProjection, queryDsims } from './dsims.projection';

describe('dsims read model', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => (db = await catalogTestDatabase()));
  afterEach(() => db.close());

  it('follows a DSIM from acquisition to unload and reset', async () => {
    const events = fixtureStream(7);
    const resetAt = events.findIndex((e) => e.type === 'DsimReset');
    await fold(db.ds, dsimsProjection, events.slice(0, resetAt));
    expect(await queryDsims(db.ds, 7)).toEqual([
      expect.objectContaining({ dsid: '1/1/2026-11-22T10:10:00.000Z@L7a', status: 'unloaded', startLsn: 100, endLsn: 180, blocks: 5, path: 'dsim-1' }),
    ]);
    await fold(db.ds, dsimsProjection, events.slice(resetAt));
    expect((await queryDsims(db.ds, 7)).map((d) => d.status)).toEqual(['reset']);
  });

  it('is idempotent when run twice', async () => {
    await fold(db.ds, dsimsProjection, fixtureStream(7));
    const once = await rowsOf(db.ds, dsimsProjection);
    await fold(db.ds, dsimsProjection, fixtureStream(7));
    expect(await rowsOf(db.ds, dsimsProjection)).toEqual(once);
    expect(once).toHaveLength(1);
  });
});
