/**
 * Volumes read model: every volume of the pool with its stream file, chain (previous / next
 * volser), device, state (mounted → full | suspect → scratch, and mounted again when a scratch
 * volser is labelled anew), bytes and capacity. The LIST query joins the client files on each.
 */
import type { EntityManager } from 'typeorm';
import type { ApplyContext, CatalogEvent, Projection, Queryable } from '../projection';
import { foldsOf, RowFold, startFolds, type FoldTable } from '../row-fold';
import type { VolumeView } from '@deltaflow/catalog-api';

export type { VolumeView };
import { latestVolumeVerifications } from '../sov-verifications/verifications.projection';

export const volumesProjection: Projection = {
  name: 'catalog.sov-volumes',
  tables: [{ name: 'catalog_sov_volume', key: 'volser' }],
  canHandle: (e) => ['VolumeMounted', 'VolumeFull', 'VolumeSuspect', 'VolumeScratched', 'RunPlaced', 'RunMoved'].includes(e.type),
  apply: applyVolumeEvent,
  prepare: async (m, events, ctx) => {
    const [volumes] = startFolds(ctx, 'catalog.sov-volumes', [new RowFold(VOLUME_TABLE)]);
    await volumes.load(m, events.flatMap((e) => ('volser' in e ? [[e.volser]] : [])));
  },
};

const VOLUME_TABLE: FoldTable = {
  name: 'catalog_sov_volume',
  key: [['volser', 'text']],
  columns: ['volser', 'stream', 'stream_file', 'volume_seq', 'previous_volser', 'next_volser', 'device', 'status', 'capacity', 'bytes', 'mounted_at', 'full_at', 'suspect_position', 'suspect_reason', 'scratched_at'],
};

/** In a batch: the statements below, on the rows in memory (row-fold.ts); a mount (its capacity is the stream's) runs its statements and reads its row again. */
async function foldVolumeEvent(m: Queryable, volumes: RowFold, e: CatalogEvent): Promise<void> {
  if (e.type === 'VolumeMounted') {
    // its statements (the capacity is the stream's), then its one row read again
    await volumes.write(m);
    await applyVolumeSql(m, e);
    await volumes.reloadKeys(m, [volumes.key(e.volser)]);
    return;
  }
  if (e.type !== 'RunPlaced' && e.type !== 'RunMoved' && e.type !== 'VolumeFull' && e.type !== 'VolumeSuspect' && e.type !== 'VolumeScratched') return;
  const row = volumes.get(volumes.key(e.volser));
  if (row === null) return;
  switch (e.type) {
    case 'RunPlaced':
    case 'RunMoved':
      // GREATEST ignores a NULL (bytes is NOT NULL: the max)
      if (row.status !== 'full' && e.position + e.length > row.bytes) volumes.put({ ...row, bytes: e.position + e.length });
      return;
    case 'VolumeFull':
      if (row.status === 'mounted' || row.status === 'suspect') volumes.put({ ...row, status: 'full', bytes: e.bytes, next_volser: e.nextVolser ?? null, full_at: e.occurredAt });
      return;
    case 'VolumeSuspect':
      if (row.status !== 'scratch')
        volumes.put({ ...row, status: row.status === 'mounted' ? 'suspect' : row.status, suspect_position: row.suspect_position ?? e.position ?? null, suspect_reason: row.suspect_reason ?? e.reason ?? null });
      return;
    case 'VolumeScratched':
      if (row.status !== 'scratch') volumes.put({ ...row, status: 'scratch', scratched_at: e.occurredAt });
      return;
  }
}

async function applyVolumeEvent(m: Queryable, e: CatalogEvent, ctx?: ApplyContext): Promise<void> {
  const folds = foldsOf(ctx, 'catalog.sov-volumes');
  if (folds) return foldVolumeEvent(m, folds[0], e);
  return applyVolumeSql(m, e);
}

async function applyVolumeSql(m: Queryable, e: CatalogEvent): Promise<void> {
  switch (e.type) {
    case 'VolumeMounted':
      // a new label (or a scratch volser labelled anew) starts the row over; a remount only moves it
      await m.query(
        `INSERT INTO catalog_sov_volume (volser, stream, stream_file, volume_seq, previous_volser, device, status, capacity, bytes, mounted_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'mounted', (SELECT volume_capacity FROM catalog_sov_stream WHERE stream = $2), 0, $7)
         ON CONFLICT (volser) DO UPDATE SET stream = EXCLUDED.stream, stream_file = EXCLUDED.stream_file, volume_seq = EXCLUDED.volume_seq,
           previous_volser = EXCLUDED.previous_volser, device = EXCLUDED.device, status = 'mounted', capacity = EXCLUDED.capacity, bytes = 0,
           mounted_at = EXCLUDED.mounted_at, next_volser = NULL, full_at = NULL, suspect_position = NULL, suspect_reason = NULL, scratched_at = NULL
         WHERE catalog_sov_volume.status = 'scratch' AND catalog_sov_volume.scratched_at <= EXCLUDED.mounted_at`,
        [e.volser, e.stream, e.streamFile, e.volumeSeq, e.previousVolser ?? null, e.device, e.occurredAt],
      );
      await m.query(`UPDATE catalog_sov_volume SET device = $2 WHERE volser = $1 AND status = 'mounted'`, [e.volser, e.device]);
      return;
    case 'RunPlaced':
    case 'RunMoved':
      await m.query(`UPDATE catalog_sov_volume SET bytes = GREATEST(bytes, $2) WHERE volser = $1 AND status <> 'full'`, [e.volser, e.position + e.length]);
      return;
    case 'VolumeFull':
      await m.query(`UPDATE catalog_sov_volume SET status = 'full', bytes = $2, next_volser = $3, full_at = $4 WHERE volser = $1 AND status IN ('mounted', 'suspect')`, [
        e.volser,
        e.bytes,
        e.nextVolser ?? null,
        e.occurredAt,
      ]);
      return;
    case 'VolumeSuspect':
      await m.query(
        `UPDATE catalog_sov_volume SET status = CASE WHEN status = 'mounted' THEN 'suspect' ELSE status END,
           suspect_position = COALESCE(suspect_position, $2), suspect_reason = COALESCE(suspect_reason, $3) WHERE volser = $1 AND status <> 'scratch'`,
        [e.volser, e.position ?? null, e.reason],
      );
      return;
    case 'VolumeScratched':
      await m.query(`UPDATE catalog_sov_volume SET status = 'scratch', scratched_at = $2 WHERE volser = $1 AND status <> 'scratch'`, [e.volser, e.occurredAt]);
      return;
    default:
      return;
  }
}

/** SOVADM LIST: the volumes (of one stream, or all) with the client files on each. */
export async function queryVolumes(m: Pick<EntityManager, 'query'>, stream?: string): Promise<VolumeView[]> {
  const vols: Array<Record<string, string | null>> = await m.query(
    `SELECT * FROM catalog_sov_volume ${stream ? 'WHERE stream = $1' : ''} ORDER BY stream, stream_file, volume_seq, volser`,
    stream ? [stream] : [],
  );
  const files: Array<{ volser: string; incarnation: string; client_file: string; state: string; expires_at: string | null }> = await m.query(
    `SELECT DISTINCT r.volser, f.incarnation, f.client_file, f.state, f.expires_at FROM catalog_sov_run r JOIN catalog_sov_client_file f USING (incarnation)
     ${stream ? 'WHERE f.stream = $1' : ''} ORDER BY r.volser, f.client_file, f.incarnation`,
    stream ? [stream] : [],
  );
  const verified = await latestVolumeVerifications(m, stream);
  return vols.map((v) => {
    const on = files.filter((f) => f.volser === v.volser);
    const expiries = on.filter((f) => f.state !== 'expired').map((f) => (f.expires_at === null ? null : Number(f.expires_at)));
    const view: VolumeView = {
      volser: String(v.volser),
      stream: String(v.stream),
      streamFile: String(v.stream_file),
      volumeSeq: Number(v.volume_seq),
      device: String(v.device),
      state: v.status as VolumeView['state'],
      bytes: Number(v.bytes),
      clientFiles: on.map((f) => ({ incarnation: f.incarnation, clientFile: f.client_file, state: f.state })),
    };
    if (v.previous_volser !== null) view.previousVolser = v.previous_volser;
    if (v.next_volser !== null) view.nextVolser = v.next_volser;
    if (v.capacity !== null) {
      view.capacity = Number(v.capacity);
      view.fill = Math.round((Number(v.bytes) / Number(v.capacity)) * 10_000) / 10_000;
    }
    if (expiries.length) view.expiresAt = expiries.includes(null) ? null : Math.max(...(expiries as number[]));
    const ver = verified.get(String(v.volser));
    if (ver) view.verified = ver;
    if (v.suspect_reason !== null) view.suspect = { ...(v.suspect_position !== null ? { position: Number(v.suspect_position) } : {}), reason: v.suspect_reason };
    return view;
  });
}
