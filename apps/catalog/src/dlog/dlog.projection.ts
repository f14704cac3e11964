/**
 * DLOG read model: the DLOG of each database as the change logger recorded it on dsf.dlog, folded
 * with the DLOG decider's own `evolve` (@deltaflow/dlog) and kept as its snapshot, with the counts a
 * report shows (blocks marked per area, utility marks and their extension use, the capture a save
 * holds). Folding the same events twice gives the same state, so redeliveries change nothing. A
 * DlogSnapshotted replaces the state: after the change logger's DLOG retention the log of a
 * database starts with one, so a replay from the log start gives the same state. A snapshot in
 * parts replaces it once its last part is read (the parts are gathered in memory, across batches);
 * one missing a part (cut short by a crash, or begun before this consumer's committed offset) is
 * ignored: the state folded from the events before it is the same.
 */
import { DlogSnapshotAssembler, dlogStateFromJSON, dlogStateToJSON, dlogSummary, evolve, liveMarks, viewState, type DlogEvent, type DlogState } from '@deltaflow/dlog';
import type { EntityManager } from 'typeorm';
import type { ApplyContext, CatalogEvent, Projection, Queryable } from '../projection';
import type { DlogView } from '@deltaflow/catalog-api';

export type { DlogView };

const DLOG_TYPES: ReadonlySet<string> = new Set(['DlogRecorded', 'DlogSyncRecorded', 'DlogCaptureAwaited', 'DlogCaptureWithdrawn', 'DlogCaptured', 'DlogDropped', 'DlogReturned', 'DlogSnapshotted']);

/** the parts of DLOG snapshots read so far (a redelivery repeats parts: each is taken once) */
const snapshots = new DlogSnapshotAssembler();

export const dlogProjection: Projection = {
  name: 'catalog.dlog',
  tables: [{ name: 'catalog_dlog', key: 'dbid' }],
  canHandle: (e) => DLOG_TYPES.has(e.type),
  apply: applyDlogEvent,
  // in a batch: the state of every database the events touch, read (and locked) in one query
  prepare: async (m, events, ctx) => {
    const dbids = [...new Set(events.map((e) => (e as { dbid: number }).dbid))];
    const rows = (await m.query('SELECT dbid, state FROM catalog_dlog WHERE dbid = ANY($1::int[]) FOR UPDATE', [dbids])) as Array<{ dbid: number; state: unknown }>;
    const found = new Map(rows.map((r) => [Number(r.dbid), r.state]));
    for (const dbid of dbids) {
      const state = found.get(dbid);
      ctx.memo.set(`catalog.dlog:${dbid}`, state === undefined ? viewState(dbid) : dlogStateFromJSON(state as Parameters<typeof dlogStateFromJSON>[0]));
    }
  },
};

async function applyDlogEvent(m: Queryable, e: CatalogEvent, ctx?: ApplyContext): Promise<void> {
  if (!DLOG_TYPES.has(e.type)) return;
  const { occurredAt, ...event } = e as Extract<CatalogEvent, { type: DlogEvent['type'] | 'DlogSnapshotted' }>;
  const snapshot = event.type === 'DlogSnapshotted' ? snapshots.add(event) : (snapshots.interrupt(event.dbid), null);
  if (event.type === 'DlogSnapshotted' && snapshot === null) return; // a part, not the last one
  // within a batch, the state this projection wrote last for the database (the row is locked since its first read)
  const key = `catalog.dlog:${event.dbid}`;
  let before = ctx?.memo.get(key) as DlogState | undefined;
  if (before === undefined) {
    const [row] = await m.query('SELECT state FROM catalog_dlog WHERE dbid = $1 FOR UPDATE', [event.dbid]);
    before = row === undefined ? viewState(event.dbid) : dlogStateFromJSON(row.state);
  }
  // a snapshot (the change logger's, before it truncated dsf.dlog below it) is the state itself
  const state = snapshot ?? evolve(before, event as DlogEvent);
  ctx?.memo.set(key, state);
  const write = (q: Queryable) => {
    const s = dlogSummary(state);
    return q.query(
      `INSERT INTO catalog_dlog (dbid, state, asso_blocks, data_blocks, marks, pending, last_lsn, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (dbid) DO UPDATE SET state = $2, asso_blocks = $3, data_blocks = $4, marks = $5, pending = $6, last_lsn = $7, updated_at = $8`,
      [event.dbid, JSON.stringify(dlogStateToJSON(state)), s.live.ASSO, s.live.DATA, JSON.stringify(liveMarks(state)), s.pending ? JSON.stringify(s.pending) : null, s.lastLsn, occurredAt],
    );
  };
  // in a batch, the row is written once, with the state after the batch's last event for the database
  if (ctx) ctx.atEnd.set(key, write);
  else await write(m);
}

export async function queryDlog(m: Pick<EntityManager, 'query'>, dbid: number): Promise<DlogView | null> {
  const [r] = await m.query('SELECT * FROM catalog_dlog WHERE dbid = $1', [dbid]);
  if (r === undefined) return null;
  const marks = r.marks as DlogView['marks'];
  const state = dlogStateFromJSON(r.state);
  return {
    blocks: { ASSO: Number(r.asso_blocks), DATA: Number(r.data_blocks) },
    marks,
    extension: { used: Math.max(0, ...marks.map((k) => k.extents.length)), capacity: state.config.extensionCapacity },
    pending: r.pending,
    lastLsn: r.last_lsn === null ? null : Number(r.last_lsn),
    updatedAt: Number(r.updated_at),
  };
}
