/**
 * SOVADM (seed: ExHPDM's administration utility) as catalog operations; the dsf commands call them
 * over HTTP (catalog.controller.ts), tools may call them in-process.
 *
 * - expire as of a date: closed client files whose expiry passed, and aborted ones, are expired by
 *   the multiplexer (ClientFileExpire commands; it owns the volumes and returns to scratch those
 *   left holding expired files only). A full save that a live delta chain still needs (a delta of
 *   the same database, lineage and full number that is not expiring: a client file, or a completed
 *   save or merge output in a directory) is kept, with the reason.
 * - backup to a file and restore from it: every read model row and the consumed offsets, one JSON
 *   document per line, headed by the state digest; a restore into a fresh schema checks it.
 * - SCANSTREAMFILE: rebuilds the client-file catalog from the volumes alone (libs/tape
 *   scanStreamFile, eventsOfScan) through the same projections into a new schema; its digest of the
 *   on-volume facts equals the lost catalog's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { parseDsid } from '@deltaflow/dsid';
import { writeFileAtomic } from '@deltaflow/core';
import { eventsOfScan, scanStreamFile, type Device, type ScanOptions, type VolumeScan } from '@deltaflow/tape';
import type { MessageOfType } from '@deltaflow/contracts';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { CatalogError } from '../errors';
import type { SovEvent } from '../projection';
import { openCatalogDatabase, PROJECTIONS, stateDigest } from '../read-models';
import { clientFilesProjection, volumeFactsDigest } from '../sov-client-files/client-files.projection';
import { streamsProjection } from '../sov-streams/streams.projection';
import { volumesProjection } from '../sov-volumes/volumes.projection';

// ---------------------------------------------------------------------------------------------
// Expiration

export interface ExpireResult {
  readonly asOf: number;
  readonly dryRun: boolean;
  readonly expired: Array<{ incarnation: string; stream: string; clientFile: string; state: string; expiresAt?: number }>;
  readonly kept: Array<{ incarnation: string; stream: string; clientFile: string; reason: string }>;
}

type Row = Record<string, string | number | null>;

/** What expiring as of `asOf` would do (no change). */
export async function planExpiry(m: Pick<DataSource, 'query'>, asOf: number): Promise<Omit<ExpireResult, 'dryRun'>> {
  const due: Row[] = await m.query(
    `SELECT * FROM catalog_sov_client_file WHERE expired_at IS NULL
       AND (state = 'aborted' OR (state = 'closed' AND expires_at IS NOT NULL AND expires_at <= $1)) ORDER BY opened_at, incarnation`,
    [asOf],
  );
  const dueSet = new Set(due.map((r) => String(r.incarnation)));
  // live deltas: client files not expiring, and completed deltas in directories (saves, merge outputs)
  const liveFiles: Row[] = await m.query(`SELECT incarnation, dbid, lineage, dsid_full, client_file FROM catalog_sov_client_file WHERE kind = 'delta' AND expired_at IS NULL AND state = 'closed'`);
  const live = new Map<string, string[]>();
  const note = (dbid: unknown, lineage: unknown, full: unknown, what: string) => {
    if (dbid === null || lineage === null || full === null) return;
    const k = `${dbid}/${lineage}/${full}`;
    live.set(k, [...(live.get(k) ?? []), what]);
  };
  for (const f of liveFiles) if (!dueSet.has(String(f.incarnation))) note(f.dbid, f.lineage, f.dsid_full, `client file ${f.client_file}`);
  const saves: Row[] = await m.query(`SELECT dbid, dsid, path FROM catalog_save WHERE kind = 'delta' AND status = 'completed' AND dsid IS NOT NULL AND (path IS NULL OR path NOT LIKE 'stream:%')`);
  for (const s of saves) {
    try {
      const d = parseDsid(String(s.dsid));
      note(s.dbid, d.lineage, d.full, `data set ${s.path ?? s.dsid}`);
    } catch {
      /* a DSID this build cannot parse protects nothing it could name */
    }
  }
  const expired: ExpireResult['expired'] = [];
  const kept: ExpireResult['kept'] = [];
  for (const r of due) {
    const needs = r.kind === 'full' && r.state === 'closed' ? live.get(`${r.dbid}/${r.lineage}/${r.dsid_full}`) : undefined;
    const id = { incarnation: String(r.incarnation), stream: String(r.stream), clientFile: String(r.client_file) };
    if (needs?.length) kept.push({ ...id, reason: `full save ${r.dbid}/${r.lineage}/${r.dsid_full} is needed by its live delta chain (${needs.slice(0, 5).join(', ')}${needs.length > 5 ? ', …' : ''})` });
    else expired.push({ ...id, state: String(r.state), ...(r.expires_at !== null ? { expiresAt: Number(r.expires_at) } : {}) });
  }
  return { asOf, expired, kept };
}

/** Expires what is due as of `asOf`: one ClientFileExpire command per client file (the multiplexer decides). */
export async function expireClientFiles(
  m: Pick<DataSource, 'query'>,
  send: (commands: Array<MessageOfType<'ClientFileExpire'>>) => Promise<void>,
  asOf: number,
  opts: { dryRun?: boolean; correlationId?: string } = {},
): Promise<ExpireResult> {
  const plan = await planExpiry(m, asOf);
  if (!opts.dryRun && plan.expired.length)
    await send(
      plan.expired.map((f) => ({
        type: 'ClientFileExpire' as const,
        stream: f.stream,
        clientFile: f.clientFile,
        incarnation: f.incarnation,
        asOf,
        ...(opts.correlationId ? { correlationId: opts.correlationId } : {}),
      })),
    );
  return { ...plan, dryRun: !!opts.dryRun };
}

// ---------------------------------------------------------------------------------------------
// Backup and restore

const BACKUP_FORMAT = 'deltaflow-catalog-backup';

/** Every table a backup holds: the read models and the consumed offsets. */
function backupTables(): Array<{ name: string; key: string }> {
  return [...PROJECTIONS.flatMap((p) => p.tables), { name: 'projection_checkpoint', key: 'projection, topic, partition' }];
}

export interface BackupResult {
  readonly file: string;
  readonly digest: string;
  readonly rows: Record<string, number>;
  readonly bytes: number;
}

/** Writes the catalog (one snapshot) to `file`: a header line with the digest, then one line per row. */
export async function backupCatalog(ds: DataSource, file: string, now = Date.now()): Promise<BackupResult> {
  return ds.transaction('REPEATABLE READ', async (m) => {
    const { digest, rows } = await stateDigest(m);
    const lines: string[] = [JSON.stringify({ format: BACKUP_FORMAT, version: 1, createdAt: now, digest, rows })];
    for (const t of backupTables()) {
      const rs: Array<{ j: string }> = await m.query(`SELECT row_to_json(t)::text AS j FROM ${t.name} t ORDER BY ${t.key}`);
      for (const r of rs) lines.push(`{"t":${JSON.stringify(t.name)},"r":${r.j}}`);
    }
    const text = `${lines.join('\n')}\n`;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, text, { fsync: true });
    return { file, digest, rows, bytes: Buffer.byteLength(text) };
  });
}

export interface RestoreResult {
  readonly schema: string;
  readonly digest: string;
  readonly rows: Record<string, number>;
}

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

function checkSchema(schema: string): void {
  if (!SCHEMA.test(schema) || schema === 'public') throw new CatalogError('VALIDATION', `schema: expected a lower-case identifier other than public, got ${JSON.stringify(schema)}`);
}

/** Loads a backup into a fresh `schema` (dropped first) and checks its digest; point CATALOG_SCHEMA at it to serve it. */
export async function restoreCatalog(databaseUrl: string, schema: string, file: string): Promise<RestoreResult> {
  checkSchema(schema);
  if (!fs.existsSync(file)) throw new CatalogError('VALIDATION', `no backup ${path.basename(file)}`);
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
  const ds = await openCatalogDatabase(databaseUrl, schema);
  try {
    const tables = new Set(backupTables().map((t) => t.name));
    let header: { format?: string; version?: number; digest?: string } | null = null;
    await ds.transaction(async (m) => {
      // made where it is read: a readline started before its loop loses the lines it read meanwhile
      const lines = createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line) continue;
        if (!header) {
          header = JSON.parse(line);
          if (header?.format !== BACKUP_FORMAT || header.version !== 1) throw new CatalogError('VALIDATION', `${path.basename(file)} is not a catalog backup (version 1)`);
          continue;
        }
        const { t, r } = JSON.parse(line) as { t: string; r: unknown };
        if (!tables.has(t)) throw new CatalogError('VALIDATION', `backup names an unknown table ${JSON.stringify(t).slice(0, 80)}`);
        await m.query(`INSERT INTO ${t} SELECT * FROM json_populate_record(NULL::${t}, $1)`, [JSON.stringify(r)]);
      }
    });
    const h = header as { digest?: string } | null;
    if (!h) throw new CatalogError('VALIDATION', `${path.basename(file)} is empty`);
    const { digest, rows } = await stateDigest(ds);
    if (digest !== h.digest) throw new CatalogError('VALIDATION', `restored catalog digest ${digest} differs from the backup's ${h.digest}`);
    return { schema, digest, rows };
  } finally {
    await ds.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// SCANSTREAMFILE

/** The sov.events a scanned volume stands for, completed with what the volume does not say (device, times), for the projections. */
export function sovEventsOfScan(scan: VolumeScan): SovEvent[] {
  const l = scan.label;
  if (!l) return [];
  const at = scan.finishedAt ?? l.createdAt;
  const names = new Map(scan.opens.map((o) => [o.record.incarnation, o.record.clientFile]));
  const out: SovEvent[] = [];
  for (const e of eventsOfScan(scan)) {
    switch (e.type) {
      case 'VolumeMounted':
        out.push({ ...e, device: 'scan', labelled: true, occurredAt: l.createdAt });
        break;
      case 'VolumeFull':
        out.push({ type: 'VolumeFull', stream: l.stream, volser: e.volser, bytes: scan.end, ...(e.nextVolser ? { nextVolser: e.nextVolser } : {}), occurredAt: at });
        break;
      case 'ClientFileOpened':
        out.push(e as SovEvent);
        break;
      case 'RunPlaced':
        out.push({ ...e, stream: l.stream, clientFile: names.get(e.incarnation) ?? 'unknown', crcs: [...e.crcs], occurredAt: at });
        break;
      case 'ClientFileClosed':
        out.push({ ...e, stream: l.stream, clientFile: names.get(e.incarnation) ?? 'unknown' });
        break;
      case 'ClientFileAborted':
        out.push({ ...e, stream: l.stream, clientFile: names.get(e.incarnation) ?? 'unknown' });
        break;
      default:
        break;
    }
  }
  return out;
}

export interface StreamFileScanResult {
  readonly schema: string;
  /** digest of the on-volume facts in the rebuilt schema: equal to the lost catalog's */
  readonly digest: string;
  /** the same digest as libs/tape computes it from the scan alone (a check) */
  readonly scanDigest: string;
  readonly volumes: Array<{ volser: string; method: string; label: string | null; finished: boolean }>;
  readonly clientFiles: Array<{ incarnation: string; clientFile: string | null; status: string; superblocks: number }>;
  readonly damage: Array<{ volser: string; position: number; kind: string; reason: string; resumedAt: number | null }>;
  readonly unreadable: Array<{ volser: string; reason: string }>;
  readonly missingVolumes: Record<string, number[]>;
}

/** SCANSTREAMFILE: the client-file catalog rebuilt from the volumes of `device` alone, into `schema` (dropped first). */
export async function scanStreamFileInto(databaseUrl: string, schema: string, device: Device, opts: ScanOptions & { volsers?: readonly string[] } = {}): Promise<StreamFileScanResult> {
  checkSchema(schema);
  const scan = await scanStreamFile(device, opts.volsers, { ...(opts.mode ? { mode: opts.mode } : {}) });
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
  const ds = await openCatalogDatabase(databaseUrl, schema);
  try {
    // opens first, volume by volume: a run, close or abort needs its client file known
    const events = scan.volumes.flatMap(sovEventsOfScan);
    const ordered = [...events.filter((e) => e.type === 'VolumeMounted' || e.type === 'ClientFileOpened'), ...events.filter((e) => e.type !== 'VolumeMounted' && e.type !== 'ClientFileOpened')];
    await ds.transaction(async (m) => {
      for (const e of ordered) for (const p of [streamsProjection, volumesProjection, clientFilesProjection]) if (p.canHandle(e)) await p.apply(m, e);
    });
    const digest = await volumeFactsDigest(ds);
    return {
      schema,
      digest,
      scanDigest: scan.digest,
      volumes: scan.volumes.map((v) => ({ volser: v.volser, method: v.method, label: v.labelFrom, finished: v.finished })),
      clientFiles: scan.files.map((f) => ({ incarnation: f.file.incarnation, clientFile: f.file.open?.clientFile ?? null, status: f.assessment.status, superblocks: f.assessment.superblocks })),
      damage: scan.damage.map((d) => ({ ...d })),
      unreadable: scan.unreadable,
      missingVolumes: scan.missingVolumes,
    };
  } finally {
    await ds.destroy();
  }
}
