/**
 * Streams read model (seed: the ExHPDM database's stream records): each stream's settings (its
 * performance objective, device limits, run size, codec) and its devices with their state and
 * mounted volume. A later definition replaces the settings; device rows follow their events.
 */
import type { EntityManager } from 'typeorm';
import type { CatalogEvent, Projection, Queryable } from '../projection';
import type { StreamView } from '@deltaflow/catalog-api';

export type { StreamView };

export const streamsProjection: Projection = {
  name: 'catalog.sov-streams',
  tables: [
    { name: 'catalog_sov_stream', key: 'stream' },
    { name: 'catalog_sov_device', key: 'stream, device' },
  ],
  canHandle: (e) => ['StreamDefined', 'DeviceAdded', 'DeviceRemoved', 'DeviceFailed', 'VolumeMounted', 'VolumeFull', 'VolumeSuspect'].includes(e.type),
  apply: applyStreamEvent,
};

async function applyStreamEvent(m: Queryable, e: CatalogEvent): Promise<void> {
  switch (e.type) {
    case 'StreamDefined':
      await m.query(
        `INSERT INTO catalog_sov_stream (stream, min_devices, max_devices, objective_bytes_per_sec, volume_capacity, device_rate_bytes_per_sec,
           run_superblocks, checkpoint_every_bytes, compression, encryption, defined_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT (stream) DO UPDATE SET min_devices = EXCLUDED.min_devices, max_devices = EXCLUDED.max_devices,
           objective_bytes_per_sec = EXCLUDED.objective_bytes_per_sec, volume_capacity = EXCLUDED.volume_capacity,
           device_rate_bytes_per_sec = EXCLUDED.device_rate_bytes_per_sec, run_superblocks = EXCLUDED.run_superblocks,
           checkpoint_every_bytes = EXCLUDED.checkpoint_every_bytes, compression = EXCLUDED.compression, encryption = EXCLUDED.encryption,
           updated_at = EXCLUDED.updated_at
         WHERE catalog_sov_stream.updated_at <= EXCLUDED.updated_at`,
        [
          e.stream,
          e.minDevices,
          e.maxDevices,
          e.objectiveBytesPerSec ?? null,
          e.volumeCapacity,
          e.deviceRateBytesPerSec ?? null,
          e.runSuperblocks,
          e.checkpointEveryBytes,
          e.compression,
          e.encryption,
          e.occurredAt,
        ],
      );
      return;
    case 'DeviceAdded':
      await m.query(
        `INSERT INTO catalog_sov_device (stream, device, rate_bytes_per_sec, status, added_at, updated_at) VALUES ($1, $2, $3, 'active', $4, $4)
         ON CONFLICT (stream, device) DO UPDATE SET status = 'active', rate_bytes_per_sec = EXCLUDED.rate_bytes_per_sec, reason = NULL, updated_at = EXCLUDED.updated_at`,
        [e.stream, e.device, e.rateBytesPerSec ?? null, e.occurredAt],
      );
      return;
    case 'DeviceRemoved':
    case 'DeviceFailed':
      await m.query(`UPDATE catalog_sov_device SET status = $3, reason = $4, volser = NULL, updated_at = $5 WHERE stream = $1 AND device = $2`, [
        e.stream,
        e.device,
        e.type === 'DeviceRemoved' ? 'removed' : 'failed',
        e.reason ?? null,
        e.occurredAt,
      ]);
      return;
    case 'VolumeMounted':
      await m.query(`UPDATE catalog_sov_device SET volser = CASE WHEN device = $2 THEN $3 ELSE NULL END WHERE stream = $1 AND (device = $2 OR volser = $3)`, [e.stream, e.device, e.volser]);
      return;
    case 'VolumeFull':
    case 'VolumeSuspect':
      await m.query('UPDATE catalog_sov_device SET volser = NULL WHERE stream = $1 AND volser = $2', [e.stream, e.volser]);
      return;
    default:
      return;
  }
}

/** Every stream with its devices, open client files and volumes in use. */
export async function queryStreams(m: Pick<EntityManager, 'query'>): Promise<StreamView[]> {
  const streams: Array<Record<string, string | null>> = await m.query('SELECT * FROM catalog_sov_stream ORDER BY stream');
  const devices: Array<Record<string, string | null>> = await m.query('SELECT * FROM catalog_sov_device ORDER BY stream, device');
  const open: Array<{ stream: string; n: string }> = await m.query(`SELECT stream, count(*) AS n FROM catalog_sov_client_file WHERE state = 'open' GROUP BY stream`);
  const vols: Array<{ stream: string; n: string }> = await m.query(`SELECT stream, count(*) AS n FROM catalog_sov_volume WHERE status <> 'scratch' GROUP BY stream`);
  const opt = (v: string | null) => (v === null ? undefined : Number(v));
  return streams.map((s) => {
    const v: StreamView = {
      stream: String(s.stream),
      minDevices: Number(s.min_devices),
      maxDevices: Number(s.max_devices),
      volumeCapacity: Number(s.volume_capacity),
      runSuperblocks: Number(s.run_superblocks),
      checkpointEveryBytes: Number(s.checkpoint_every_bytes),
      compression: String(s.compression),
      encryption: String(s.encryption),
      definedAt: Number(s.defined_at),
      devices: devices
        .filter((d) => d.stream === s.stream)
        .map((d) => ({
          device: String(d.device),
          status: d.status as 'active',
          ...(d.rate_bytes_per_sec !== null ? { rateBytesPerSec: Number(d.rate_bytes_per_sec) } : {}),
          ...(d.volser !== null ? { volser: d.volser } : {}),
          ...(d.reason !== null ? { reason: d.reason } : {}),
        })),
      openClientFiles: Number(open.find((o) => o.stream === s.stream)?.n ?? 0),
      volumes: Number(vols.find((o) => o.stream === s.stream)?.n ?? 0),
    };
    if (opt(s.objective_bytes_per_sec) !== undefined) v.objectiveBytesPerSec = opt(s.objective_bytes_per_sec);
    if (opt(s.device_rate_bytes_per_sec) !== undefined) v.deviceRateBytesPerSec = opt(s.device_rate_bytes_per_sec);
    return v;
  });
}
