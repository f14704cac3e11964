/**
 * The catalog's side of the data set retention over a migrated catalog: the policy folded from
 * RetentionSet (a later one wins; neither count nor age: back to the default), the saves as the
 * retention sees them (a save to a stream protects its chain while its client file is closed and
 * unexpired), and DataSetExpired marking a save expired once.
 */
import { fixtureStream } from '../testing/fixture-stream';
import { catalogTestDatabase, fold } from '../testing/projection-test-kit';
import { querySaves, savesProjection } from '../saves/saves.projection';
import { retentionOf } from './retention';
import { retentionProjection } from './retention.projection';

const NOW = Date.UTC(2027, 0, 1);
const ids = (xs: ReadonlyArray<{ correlationId: string }>) => xs.map((x) => x.correlationId).sort();

describe('data set retention in the catalog', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => (db = await catalogTestDatabase()));
  afterEach(() => db.close());

  it('keeps what the policy keeps and what a live chain needs, a stream delta included while its client file lives', async () => {
    await fold(db.ds, savesProjection, fixtureStream(7));
    // no policy set and no default: everything stays
    expect((await retentionOf(db.ds, 7, {}, NOW)).expire).toEqual([]);
    // the default from the configuration
    expect(await retentionOf(db.ds, 7, { keepDays: 10_000 }, NOW)).toMatchObject({ source: 'default', rule: 'saves younger than 10000 days', expire: [] });

    await fold(db.ds, retentionProjection, [
      { type: 'RetentionSet', correlationId: 'r0', dbid: 7, keepSaves: 3, occurredAt: 1 },
      { type: 'RetentionSet', correlationId: 'r1', dbid: 7, keepSaves: 1, occurredAt: 2 },
    ]);
    // the stream delta c2 (full save 1, at stream:S1/delta-1) has no live client file: it protects nothing
    let v = await retentionOf(db.ds, 7, {}, NOW);
    expect(v).toMatchObject({ source: 'set', setAt: 2, rule: 'the last 1 save' });
    expect(ids(v.keep)).toEqual(['c5']);
    expect(ids(v.expire)).toEqual(['c1', 'm1']);
    expect(v.expire.find((e) => e.correlationId === 'c1')).toMatchObject({ names: ['full-1'], why: 'outside the retention (the last 1 save) and needed by no kept save' });

    // its client file closed and unexpired: the full save it needs stays
    await db.ds.query(
      `INSERT INTO catalog_sov_client_file (incarnation, stream, client_file, dbid, compression, encryption, opened_at, state) VALUES ('i1', 'S1', 'delta-1', 7, 'none', 'none', 1, 'closed')`,
    );
    v = await retentionOf(db.ds, 7, {}, NOW);
    expect(ids(v.keep)).toEqual(['c1', 'c2', 'c5']);
    expect(v.keep.find((k) => k.correlationId === 'c1')?.why).toMatch(/^needed by the chain of 1\/1\/.* \(c2\)$/);
    expect(v.keep.find((k) => k.correlationId === 'c2')?.why).toBe('a client file on a stream (it expires by its expiry date)');
    expect(ids(v.expire)).toEqual(['m1']);

    // expired by SOVADM: it protects nothing again
    await db.ds.query(`UPDATE catalog_sov_client_file SET expired_at = 5 WHERE incarnation = 'i1'`);
    expect(ids((await retentionOf(db.ds, 7, {}, NOW)).expire)).toEqual(['c1', 'm1']);

    // cleared: back to the default
    await fold(db.ds, retentionProjection, [{ type: 'RetentionSet', correlationId: 'r2', dbid: 7, occurredAt: 3 }]);
    expect(await retentionOf(db.ds, 7, {}, NOW)).toMatchObject({ source: 'default', expire: [] });
  });

  it('DataSetExpired marks the save expired once, with the reason and the names', async () => {
    await fold(db.ds, savesProjection, fixtureStream(7));
    const c1 = (await querySaves(db.ds, 7)).find((s) => s.correlationId === 'c1')!;
    const dsid = { full: 1, deltaFrom: 0, deltaTo: 0, timestamp: Date.UTC(2026, 10, 22, 10), lineage: 'L7a' };
    const expired = { type: 'DataSetExpired' as const, correlationId: 'x1', dbid: 7, save: 'c1', dsid, names: ['full-1'], reason: 'outside the retention', occurredAt: 50 };
    await fold(db.ds, savesProjection, [expired, { ...expired, correlationId: 'x2', reason: 'again', occurredAt: 60 }]);
    const after = (await querySaves(db.ds, 7)).find((s) => s.correlationId === 'c1')!;
    expect(after).toEqual({ ...c1, expiredAt: 50, expiryReason: 'outside the retention', expiredNames: ['full-1'] });
    const v = await retentionOf(db.ds, 7, { keepSaves: 1 }, NOW);
    expect(v.expired).toEqual([{ correlationId: 'c1', dsid: c1.dsid, expiredAt: 50, reason: 'outside the retention', names: ['full-1'] }]);
    expect(ids(v.expire)).toEqual(['m1']);
  });
});
