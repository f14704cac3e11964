/**
 * Saves read model: one row per save (and per merge output) of a database, keyed by the
 * correlation id of the command that made it. A row goes started → completed | failed and
 * never leaves a final state, so a redelivered or late event changes nothing. A completed save
 * whose data sets the retention deleted (DataSetExpired) keeps its row, marked expired with the
 * reason (auditors see what was kept and what went, and why).
 */
import { formatDsid } from '@deltaflow/dsid';
import type { EntityManager } from 'typeorm';
import { locationPath, type ApplyContext, type CatalogEvent, type Projection, type Queryable } from '../projection';
import { foldsOf, RowFold, startFolds, type FoldTable, type Row } from '../row-fold';
import type { SaveView } from '@deltaflow/catalog-api';

export type { SaveView };

export const savesProjection: Projection = {
  name: 'catalog.saves',
  tables: [{ name: 'catalog_save', key: 'dbid, correlation_id' }],
  canHandle: (e) => e.type === 'SaveStarted' || e.type === 'SaveCompleted' || e.type === 'SaveFailed' || e.type === 'MergeCompleted' || e.type === 'DataSetExpired',
  apply: applySaveEvent,
  prepare: async (m, events, ctx) => {
    const [saves] = startFolds(ctx, 'catalog.saves', [new RowFold(SAVE_TABLE)]);
    await saves.load(m, events.flatMap((e) => (e.type === 'DataSetExpired' ? [[e.dbid, e.save]] : 'correlationId' in e && 'dbid' in e ? [[e.dbid, e.correlationId]] : [])));
  },
};

const SAVE_TABLE: FoldTable = {
  name: 'catalog_save',
  key: [
    ['dbid', 'int'],
    ['correlation_id', 'text'],
  ],
  columns: ['dbid', 'correlation_id', 'origin', 'dsid', 'lineage', 'kind', 'online', 'status', 'path', 'started_at', 'completed_at', 'start_lsn', 'end_lsn', 'blocks', 'bytes', 'digest', 'reason', 'expired_at', 'expiry_reason', 'expired_names'],
};

/** In a batch: the statements below, on the rows in memory (row-fold.ts). */
function foldSaveEvent(saves: RowFold, e: CatalogEvent): void {
  if (e.type === 'DataSetExpired') {
    const expired = saves.get(saves.key(e.dbid, e.save));
    if (expired !== null && (expired.expired_at === null || expired.expired_at === undefined)) saves.put({ ...expired, expired_at: e.occurredAt, expiry_reason: e.reason, expired_names: e.names });
    return;
  }
  if (e.type !== 'SaveStarted' && e.type !== 'SaveCompleted' && e.type !== 'SaveFailed' && e.type !== 'MergeCompleted') return;
  const row = saves.get(saves.key(e.dbid, e.correlationId));
  const base = { dbid: e.dbid, correlation_id: e.correlationId };
  switch (e.type) {
    case 'SaveStarted':
      if (row === null) saves.put({ ...base, origin: 'save', dsid: formatDsid(e.dsid), lineage: e.dsid.lineage, kind: e.kind, online: e.online, status: 'started', started_at: e.occurredAt, start_lsn: e.startLsn ?? null });
      return;
    case 'SaveCompleted': {
      const v: Row = { dsid: formatDsid(e.dsid), lineage: e.dsid.lineage, kind: e.kind, online: e.online, completed_at: e.occurredAt, end_lsn: e.endLsn ?? null, path: locationPath(e.location), blocks: e.blocks, bytes: e.bytes, digest: e.digest };
      if (row === null) saves.put({ ...base, origin: 'save', status: 'completed', started_at: e.occurredAt, start_lsn: e.startLsn ?? null, ...v });
      else if (row.status === 'started') saves.put({ ...row, ...v, status: 'completed', start_lsn: row.start_lsn ?? e.startLsn ?? null });
      return;
    }
    case 'SaveFailed': {
      const dsid = e.dsid ? formatDsid(e.dsid) : null;
      const lineage = e.dsid?.lineage ?? null;
      const reason = `${e.code}: ${e.reason}`;
      if (row === null) saves.put({ ...base, origin: 'save', dsid, lineage, status: 'failed', started_at: e.occurredAt, completed_at: e.occurredAt, reason });
      else if (row.status === 'started') saves.put({ ...row, status: 'failed', completed_at: e.occurredAt, reason, dsid: row.dsid ?? dsid, lineage: row.lineage ?? lineage });
      return;
    }
    case 'MergeCompleted':
      if (row === null)
        saves.put({ ...base, origin: 'merge', dsid: formatDsid(e.dsid), lineage: e.dsid.lineage, kind: e.kind, online: false, status: 'completed', started_at: e.occurredAt, completed_at: e.occurredAt, path: locationPath(e.location), blocks: e.blocks, digest: e.digest });
      return;
  }
}

async function applySaveEvent(m: Queryable, e: CatalogEvent, ctx?: ApplyContext): Promise<void> {
  const folds = foldsOf(ctx, 'catalog.saves');
  if (folds) return foldSaveEvent(folds[0], e);
  switch (e.type) {
    case 'SaveStarted':
      await m.query(
        `INSERT INTO catalog_save (dbid, correlation_id, origin, dsid, lineage, kind, online, status, started_at, start_lsn)
         VALUES ($1, $2, 'save', $3, $4, $5, $6, 'started', $7, $8) ON CONFLICT (dbid, correlation_id) DO NOTHING`,
        [e.dbid, e.correlationId, formatDsid(e.dsid), e.dsid.lineage, e.kind, e.online, e.occurredAt, e.startLsn ?? null],
      );
      return;
    case 'SaveCompleted':
      // A completion without a seen start (start lost to retention) still records the save.
      await m.query(
        `INSERT INTO catalog_save (dbid, correlation_id, origin, dsid, lineage, kind, online, status, started_at, completed_at,
           start_lsn, end_lsn, path, blocks, bytes, digest)
         VALUES ($1, $2, 'save', $3, $4, $5, $6, 'completed', $7, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (dbid, correlation_id) DO UPDATE SET status = 'completed', completed_at = EXCLUDED.completed_at,
           dsid = EXCLUDED.dsid, lineage = EXCLUDED.lineage, kind = EXCLUDED.kind, online = EXCLUDED.online,
           start_lsn = COALESCE(catalog_save.start_lsn, EXCLUDED.start_lsn), end_lsn = EXCLUDED.end_lsn, path = EXCLUDED.path,
           blocks = EXCLUDED.blocks, bytes = EXCLUDED.bytes, digest = EXCLUDED.digest
         WHERE catalog_save.status = 'started'`,
        [e.dbid, e.correlationId, formatDsid(e.dsid), e.dsid.lineage, e.kind, e.online, e.occurredAt, e.startLsn ?? null, e.endLsn ?? null,
          locationPath(e.location), e.blocks, e.bytes, e.digest],
      );
      return;
    case 'SaveFailed':
      await m.query(
        `INSERT INTO catalog_save (dbid, correlation_id, origin, dsid, lineage, status, started_at, completed_at, reason)
         VALUES ($1, $2, 'save', $3, $4, 'failed', $5, $5, $6)
         ON CONFLICT (dbid, correlation_id) DO UPDATE SET status = 'failed', completed_at = EXCLUDED.completed_at,
           reason = EXCLUDED.reason, dsid = COALESCE(catalog_save.dsid, EXCLUDED.dsid), lineage = COALESCE(catalog_save.lineage, EXCLUDED.lineage)
         WHERE catalog_save.status = 'started'`,
        [e.dbid, e.correlationId, e.dsid ? formatDsid(e.dsid) : null, e.dsid?.lineage ?? null, e.occurredAt, `${e.code}: ${e.reason}`],
      );
      return;
    case 'MergeCompleted':
      // A merge output is a data set like a save: always offline, completed when announced.
      await m.query(
        `INSERT INTO catalog_save (dbid, correlation_id, origin, dsid, lineage, kind, online, status, started_at, completed_at, path, blocks, digest)
         VALUES ($1, $2, 'merge', $3, $4, $5, false, 'completed', $6, $6, $7, $8, $9) ON CONFLICT (dbid, correlation_id) DO NOTHING`,
        [e.dbid, e.correlationId, formatDsid(e.dsid), e.dsid.lineage, e.kind, e.occurredAt, locationPath(e.location), e.blocks, e.digest],
      );
      return;
    case 'DataSetExpired':
      await m.query(
        `UPDATE catalog_save SET expired_at = $3, expiry_reason = $4, expired_names = $5 WHERE dbid = $1 AND correlation_id = $2 AND expired_at IS NULL`,
        [e.dbid, e.save, e.occurredAt, e.reason, JSON.stringify(e.names)],
      );
      return;
    default:
      return;
  }
}

interface SaveRow {
  dbid: number;
  correlation_id: string;
  origin: 'save' | 'merge';
  dsid: string | null;
  lineage: string | null;
  kind: 'full' | 'delta' | null;
  online: boolean | null;
  status: 'started' | 'completed' | 'failed';
  path: string | null;
  started_at: string;
  completed_at: string | null;
  start_lsn: string | null;
  end_lsn: string | null;
  blocks: string | null;
  bytes: string | null;
  digest: string | null;
  reason: string | null;
  expired_at: string | null;
  expiry_reason: string | null;
  expired_names: string[] | null;
}

const num = (v: string | null) => (v === null ? undefined : Number(v));

/** The saves of one database, ordered by start. */
export async function querySaves(m: Pick<EntityManager, 'query'>, dbid: number): Promise<SaveView[]> {
  const rows: SaveRow[] = await m.query('SELECT * FROM catalog_save WHERE dbid = $1 ORDER BY started_at, correlation_id', [dbid]);
  return rows.map((r) => {
    const v: SaveView = { dbid: r.dbid, dsid: r.dsid, origin: r.origin, correlationId: r.correlation_id, status: r.status, startedAt: Number(r.started_at) };
    if (r.lineage !== null) v.lineage = r.lineage;
    if (r.kind !== null) v.kind = r.kind;
    if (r.online !== null) v.online = r.online;
    if (r.path !== null) v.path = r.path;
    if (r.completed_at !== null) v.completedAt = num(r.completed_at);
    if (r.start_lsn !== null) v.startLsn = num(r.start_lsn);
    if (r.end_lsn !== null) v.endLsn = num(r.end_lsn);
    if (r.blocks !== null) v.blocks = num(r.blocks);
    if (r.bytes !== null) v.bytes = num(r.bytes);
    if (r.digest !== null) v.digest = r.digest;
    if (r.reason !== null) v.reason = r.reason;
    if (r.expired_at !== null) v.expiredAt = Number(r.expired_at);
    if (r.expiry_reason !== null) v.expiryReason = r.expiry_reason;
    if (r.expired_names !== null) v.expiredNames = r.expired_names;
    return v;
  });
}
