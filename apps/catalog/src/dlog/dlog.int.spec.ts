import { dlogStateToJSON, evolve, splitDlogSnapshot, viewState, type DlogEvent } from '@deltaflow/dlog';
import type { CatalogEvent } from '../projection';
import { dlogStream } from '../testing/fixture-stream';
import { catalogTestDatabase, fold, rowsOf } from '../testing/projection-test-kit';
import { dlogProjection, queryDlog } from './dlog.projection';

describe('DLOG read model', () => {
  let db: Awaited<ReturnType<typeof catalogTestDatabase>>;
  beforeEach(async () => (db = await catalogTestDatabase()));
  afterEach(() => db.close());

  it('folds dsf.dlog with the DLOG decider: what is marked now, after a save took its capture', async () => {
    const events = dlogStream(7);
    await fold(db.ds, dlogProjection, events.slice(0, 4));
    expect(await queryDlog(db.ds, 7)).toMatchObject({ blocks: { ASSO: 0, DATA: 0 }, marks: [], pending: { correlationId: 'c2', syncLsn: 12, DATA: 5, ASSO: 1 } });
    await fold(db.ds, dlogProjection, events.slice(4));
    const v = await queryDlog(db.ds, 7);
    expect(v).toMatchObject({ blocks: { ASSO: 0, DATA: 2 }, pending: null, lastLsn: 20, extension: { used: 0, capacity: 64 } });
    expect(await queryDlog(db.ds, 8)).toBeNull();
  });

  it('takes a DlogSnapshotted for the state itself: a log cut below the snapshot folds to what the whole log folded to', async () => {
    const events = dlogStream(7);
    await fold(db.ds, dlogProjection, events);
    const whole = await queryDlog(db.ds, 7);
    // the change logger's snapshot after the first five events, then the log as it is left after the cut
    const state = events.slice(0, 5).reduce((st, e) => evolve(st, stripAt(e)), viewState(7));
    const snapshot: CatalogEvent = { type: 'DlogSnapshotted', dbid: 7, lastLsn: 20, state: Buffer.from(JSON.stringify(dlogStateToJSON(state))), occurredAt: 99 };
    await db.close();
    db = await catalogTestDatabase();
    await fold(db.ds, dlogProjection, [snapshot, events[5]]);
    expect({ ...(await queryDlog(db.ds, 7)), updatedAt: 0 }).toEqual({ ...whole, updatedAt: 0 });
    expect(whole).toMatchObject({ blocks: { ASSO: 0, DATA: 2 }, lastLsn: 20 });
  });

  it('takes a snapshot in parts once its last part is read, and ignores one missing a part (cut short by a crash)', async () => {
    const events = dlogStream(7);
    await fold(db.ds, dlogProjection, events);
    const whole = await queryDlog(db.ds, 7);
    const state = events.slice(0, 5).reduce((st, e) => evolve(st, stripAt(e)), viewState(7));
    const parts = splitDlogSnapshot(state, 'snap-1', 100).map((p): CatalogEvent => ({ type: 'DlogSnapshotted', dbid: 7, lastLsn: 20, ...p, occurredAt: 99 }));
    expect(parts.length).toBeGreaterThan(2);
    // a round cut short after its first parts, before the complete one: ignored
    const cutShort = splitDlogSnapshot(viewState(7), 'snap-0', 10)
      .slice(0, 2)
      .map((p): CatalogEvent => ({ type: 'DlogSnapshotted', dbid: 7, ...p, occurredAt: 98 }));
    await db.close();
    db = await catalogTestDatabase();
    await fold(db.ds, dlogProjection, [...parts.slice(0, 1)]);
    expect(await queryDlog(db.ds, 7)).toBeNull();
    await fold(db.ds, dlogProjection, [...parts.slice(1), ...cutShort, events[5]]);
    expect({ ...(await queryDlog(db.ds, 7)), updatedAt: 0 }).toEqual({ ...whole, updatedAt: 0 });
  });

  it('is idempotent when run twice', async () => {
    await fold(db.ds, dlogProjection, dlogStream(7));
    const once = await rowsOf(db.ds, dlogProjection);
    await fold(db.ds, dlogProjection, dlogStream(7));
    expect(await rowsOf(db.ds, dlogProjection)).toEqual(once);
    expect(once).toHaveLength(1);
  });
});

function stripAt(e: CatalogEvent): DlogEvent {
  const { occurredAt: _at, ...event } = e as CatalogEvent & { occurredAt: number };
  return event as DlogEvent;
}
