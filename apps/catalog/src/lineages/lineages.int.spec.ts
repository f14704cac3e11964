import { fixtureStream } from '../testing/fixture-stream';
import { catalogTestDatabase, fold, rowsOf } from '../testing/projection-test-kit';
import { lineagesProjection, queryLineages } from './lineages.projection';

describe('lineages read model', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => (db = await catalogTestDatabase()));
  afterEach(() => db.close());

  it('records each lineage with its first and latest data set', async () => {
    await fold(db.ds, lineagesProjection, fixtureStream(7));
    expect(await queryLineages(db.ds, 7)).toEqual([
      expect.objectContaining({ lineage: 'L7a', firstDsid: '1/0/2026-11-22T10:00:00.000Z@L7a', latestDsid: '2/0/2026-11-22T10:30:00.000Z@L7a' }),
      expect.objectContaining({ lineage: 'L7b', firstDsid: '1/0/2026-11-22T10:40:00.000Z@L7b', latestDsid: '1/0/2026-11-22T10:40:00.000Z@L7b' }),
    ]);
  });

  it('is idempotent when run twice (an older completion never moves "latest" back)', async () => {
    await fold(db.ds, lineagesProjection, fixtureStream(7));
    const once = await rowsOf(db.ds, lineagesProjection);
    await fold(db.ds, lineagesProjection, fixtureStream(7));
    expect(await rowsOf(db.ds, lineagesProjection)).toEqual(once);
    expect(once).toHaveLength(2);
  });
});
