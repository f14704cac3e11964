/**
 * Client files read model (seed: the ExHPDM database's client file records): one row per
 * incarnation (name, stream, dbid, DSID, kind, expiry, codec, state open → closed | aborted →
 * expired) and one row per placed run (the placement index a reader seeks by). A client file is
 * known from its ClientFileOpened (its open record is on a volume); a close or abort of a file never
 * opened changes nothing. A run moved by reclamation (RunMoved) is indexed where it now lies and the
 * old row goes with the piece that ends where it ended. When a volume goes to scratch its runs go, and an expired client file left
 * on no volume goes with them (the volumes no longer hold it, so a scan would not find it either).
 */
import { catalogDigest, initialCatalog, type CatalogState, type CodecSpec, type OpenRecord, type RunPlacement } from '@deltaflow/tape';
import type { EntityManager } from 'typeorm';
import type { ApplyContext, CatalogEvent, Projection, Queryable } from '../projection';
import { foldsOf, RowFold, startFolds, type FoldTable } from '../row-fold';
import type { ClientFileState, ClientFileView } from '@deltaflow/catalog-api';

export type { ClientFileState, ClientFileView };

export const clientFilesProjection: Projection = {
  name: 'catalog.sov-client-files',
  tables: [
    { name: 'catalog_sov_client_file', key: 'incarnation' },
    { name: 'catalog_sov_run', key: 'volser, position' },
  ],
  canHandle: (e) => ['ClientFileOpened', 'RunPlaced', 'RunMoved', 'ClientFileClosed', 'ClientFileAborted', 'ClientFileExpired', 'VolumeScratched'].includes(e.type),
  apply: applyClientFileEvent,
  prepare: async (m, events, ctx) => {
    const [files, runs] = startFolds(ctx, 'catalog.sov-client-files', [new RowFold(CLIENT_FILE_TABLE), new RowFold(RUN_TABLE)]);
    await files.load(m, events.flatMap((e) => ('incarnation' in e ? [[e.incarnation]] : [])));
    await runs.load(
      m,
      events.flatMap((e) => (e.type === 'RunPlaced' ? [[e.volser, e.position]] : e.type === 'RunMoved' ? [[e.volser, e.position], [e.fromVolser, e.fromPosition]] : [])),
    );
  },
};

const CLIENT_FILE_TABLE: FoldTable = {
  name: 'catalog_sov_client_file',
  key: [['incarnation', 'text']],
  columns: [
    'incarnation', 'stream', 'client_file', 'dbid', 'dsid', 'lineage', 'dsid_full', 'delta_from', 'delta_to', 'kind', 'expires_at', 'description', 'compression', 'compression_level',
    'encryption', 'key_id', 'wrapped_key', 'opened_at', 'state', 'superblocks', 'bytes', 'sha256', 'closed_at', 'aborted_at', 'reason', 'expired_at',
  ],
};
const RUN_TABLE: FoldTable = {
  name: 'catalog_sov_run',
  key: [
    ['volser', 'text'],
    ['position', 'bigint'],
  ],
  columns: ['volser', 'position', 'incarnation', 'first_seq', 'superblocks', 'last', 'length', 'bytes', 'crcs', 'placed_at'],
};

/** In a batch: the statements below, on the rows in memory (row-fold.ts); a volume scratched runs its statements. */
async function foldClientFileEvent(m: Queryable, [files, runs]: RowFold[], e: CatalogEvent): Promise<void> {
  switch (e.type) {
    case 'ClientFileOpened':
      if (files.get(files.key(e.incarnation)) === null)
        files.put({
          incarnation: e.incarnation,
          stream: e.stream,
          client_file: e.clientFile,
          dbid: e.dbid ?? null,
          dsid: e.dsid ?? null,
          lineage: e.dsid?.lineage ?? null,
          dsid_full: e.dsid?.full ?? null,
          delta_from: e.dsid?.deltaFrom ?? null,
          delta_to: e.dsid?.deltaTo ?? null,
          kind: e.kind ?? null,
          expires_at: e.expiresAt ?? null,
          description: e.description ?? null,
          compression: e.compression,
          compression_level: e.compressionLevel ?? null,
          encryption: e.encryption,
          key_id: e.keyId ?? null,
          wrapped_key: e.wrappedKey ?? null,
          opened_at: e.occurredAt,
          state: 'open',
          // the columns' defaults
          superblocks: 0,
          bytes: 0,
        });
      return;
    case 'RunPlaced':
      placeRun(files, runs, e);
      return;
    case 'RunMoved': {
      // reclamation: the copy where it now lies (as RunPlaced), then the old run once its last piece moved
      placeRun(files, runs, e);
      const from = runs.key(e.fromVolser, e.fromPosition);
      const old = runs.get(from);
      if (old !== null && old.incarnation === e.incarnation && Number(old.first_seq) + Number(old.superblocks) === e.firstSeq + e.superblocks) runs.remove(from);
      return;
    }
    case 'ClientFileClosed': {
      const row = files.get(files.key(e.incarnation));
      if (row !== null && row.state === 'open') files.put({ ...row, state: 'closed', superblocks: e.superblocks, bytes: e.bytes, sha256: e.sha256, closed_at: e.occurredAt });
      return;
    }
    case 'ClientFileAborted': {
      const row = files.get(files.key(e.incarnation));
      if (row !== null && row.state === 'open') files.put({ ...row, state: 'aborted', reason: e.reason, aborted_at: e.occurredAt });
      return;
    }
    case 'ClientFileExpired': {
      const row = files.get(files.key(e.incarnation));
      if (row !== null && (row.expired_at === null || row.expired_at === undefined)) files.put({ ...row, expired_at: e.occurredAt });
      return;
    }
    case 'VolumeScratched': {
      // the statements below (deletes by volume), after the rows are written: the client files it
      // deletes are returned, and every run on the volume is gone
      await files.write(m);
      await runs.write(m);
      const gone = (await m.query(`WITH gone AS (${DELETE_EXPIRED_ON_VOLUME} RETURNING f.incarnation) SELECT incarnation FROM gone`, [e.volser])) as Array<{ incarnation: string }>;
      await m.query(DELETE_RUNS_ON_VOLUME, [e.volser]);
      files.deleted(gone.map((g) => files.key(g.incarnation)));
      runs.deleted(runs.keysWhere((r) => r.volser === e.volser));
      return;
    }
    default:
      return;
  }
}

/** A run of a known client file, where a RunPlaced (or a RunMoved's copy) lies: as INSERT_RUN would. */
function placeRun(files: RowFold, runs: RowFold, e: Extract<CatalogEvent, { type: 'RunPlaced' | 'RunMoved' }>): void {
  if (files.get(files.key(e.incarnation)) !== null && runs.get(runs.key(e.volser, e.position)) === null)
    runs.put({ volser: e.volser, position: e.position, incarnation: e.incarnation, first_seq: e.firstSeq, superblocks: e.superblocks, last: e.last, length: e.length, bytes: e.bytes, crcs: e.crcs, placed_at: e.occurredAt });
}

/** a run of a known client file ($3), once */
const INSERT_RUN = `INSERT INTO catalog_sov_run (volser, position, incarnation, first_seq, superblocks, last, length, bytes, crcs, placed_at)
         SELECT $1::text, $2::bigint, $3::text, $4::bigint, $5::int, $6::boolean, $7::bigint, $8::bigint, $9::bigint[], $10::bigint WHERE EXISTS (SELECT 1 FROM catalog_sov_client_file WHERE incarnation = $3)
         ON CONFLICT (volser, position) DO NOTHING`;
const runParams = (e: Extract<CatalogEvent, { type: 'RunPlaced' | 'RunMoved' }>) => [e.volser, e.position, e.incarnation, e.firstSeq, e.superblocks, e.last, e.length, e.bytes, e.crcs, e.occurredAt];

/** an expired client file whose only runs were on the volume $1 */
const DELETE_EXPIRED_ON_VOLUME = `DELETE FROM catalog_sov_client_file f WHERE f.expired_at IS NOT NULL
           AND f.incarnation IN (SELECT incarnation FROM catalog_sov_run WHERE volser = $1)
           AND NOT EXISTS (SELECT 1 FROM catalog_sov_run r WHERE r.incarnation = f.incarnation AND r.volser <> $1)`;
const DELETE_RUNS_ON_VOLUME = 'DELETE FROM catalog_sov_run WHERE volser = $1';

async function applyClientFileEvent(m: Queryable, e: CatalogEvent, ctx?: ApplyContext): Promise<void> {
  const folds = foldsOf(ctx, 'catalog.sov-client-files');
  if (folds) return foldClientFileEvent(m, folds, e);
  return applyClientFileSql(m, e);
}

async function applyClientFileSql(m: Queryable, e: CatalogEvent): Promise<void> {
  switch (e.type) {
    case 'ClientFileOpened':
      await m.query(
        `INSERT INTO catalog_sov_client_file (incarnation, stream, client_file, dbid, dsid, lineage, dsid_full, delta_from, delta_to, kind, expires_at,
           description, compression, compression_level, encryption, key_id, wrapped_key, opened_at, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'open')
         ON CONFLICT (incarnation) DO NOTHING`,
        [
          e.incarnation,
          e.stream,
          e.clientFile,
          e.dbid ?? null,
          e.dsid ? JSON.stringify(e.dsid) : null,
          e.dsid?.lineage ?? null,
          e.dsid?.full ?? null,
          e.dsid?.deltaFrom ?? null,
          e.dsid?.deltaTo ?? null,
          e.kind ?? null,
          e.expiresAt ?? null,
          e.description ?? null,
          e.compression,
          e.compressionLevel ?? null,
          e.encryption,
          e.keyId ?? null,
          e.wrappedKey ?? null,
          e.occurredAt,
        ],
      );
      return;
    case 'RunPlaced':
      // only a run of a known client file (one statement: no read, so a batch keeps queueing)
      await m.query(INSERT_RUN, runParams(e));
      return;
    case 'RunMoved':
      // reclamation: the copy where it now lies, then the old run (once its last piece moved)
      await m.query(INSERT_RUN, runParams(e));
      await m.query('DELETE FROM catalog_sov_run WHERE volser = $1 AND position = $2 AND incarnation = $3 AND first_seq + superblocks = $4', [
        e.fromVolser,
        e.fromPosition,
        e.incarnation,
        e.firstSeq + e.superblocks,
      ]);
      return;
    case 'ClientFileClosed':
      await m.query(`UPDATE catalog_sov_client_file SET state = 'closed', superblocks = $2, bytes = $3, sha256 = $4, closed_at = $5 WHERE incarnation = $1 AND state = 'open'`, [
        e.incarnation,
        e.superblocks,
        e.bytes,
        e.sha256,
        e.occurredAt,
      ]);
      return;
    case 'ClientFileAborted':
      await m.query(`UPDATE catalog_sov_client_file SET state = 'aborted', reason = $2, aborted_at = $3 WHERE incarnation = $1 AND state = 'open'`, [e.incarnation, e.reason, e.occurredAt]);
      return;
    case 'ClientFileExpired':
      await m.query(`UPDATE catalog_sov_client_file SET expired_at = $2 WHERE incarnation = $1 AND expired_at IS NULL`, [e.incarnation, e.occurredAt]);
      return;
    case 'VolumeScratched':
      // an expired client file whose only runs were on this volume goes with them
      await m.query(DELETE_EXPIRED_ON_VOLUME, [e.volser]);
      await m.query(DELETE_RUNS_ON_VOLUME, [e.volser]);
      return;
    default:
      return;
  }
}

type Row = Record<string, string | number | boolean | null | object>;


const stateOf = (r: Row): ClientFileState => (r.expired_at !== null ? 'expired' : (r.state as ClientFileState));

/** The open record the volumes hold for a client file row. */
export function openRecordOfRow(r: Row): OpenRecord {
  const codec: CodecSpec = {
    compression: r.compression as CodecSpec['compression'],
    ...(r.compression_level !== null ? { level: Number(r.compression_level) } : {}),
    encryption: r.encryption as CodecSpec['encryption'],
    ...(r.key_id !== null ? { keyId: String(r.key_id) } : {}),
    ...(r.wrapped_key !== null ? { wrappedKey: String(r.wrapped_key) } : {}),
  };
  return {
    incarnation: String(r.incarnation),
    clientFile: String(r.client_file),
    stream: String(r.stream),
    ...(r.dbid !== null ? { dbid: Number(r.dbid) } : {}),
    ...(r.dsid !== null ? { dsid: r.dsid } : {}),
    ...(r.kind !== null ? { kind: String(r.kind) } : {}),
    ...(r.expires_at !== null ? { expiresAt: Number(r.expires_at) } : {}),
    ...(r.description !== null ? { description: String(r.description) } : {}),
    openedAt: Number(r.opened_at),
    codec,
  };
}

/** Client files, by stream, dbid, name and state (any combination), oldest first, each with its volsers. */
export async function queryClientFiles(m: Pick<EntityManager, 'query'>, f: { stream?: string; dbid?: number; name?: string; state?: ClientFileState }): Promise<ClientFileView[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.stream !== undefined) where.push(`stream = $${args.push(f.stream)}`);
  if (f.dbid !== undefined) where.push(`dbid = $${args.push(f.dbid)}`);
  if (f.name !== undefined) where.push(`client_file = $${args.push(f.name)}`);
  const rows: Row[] = await m.query(`SELECT * FROM catalog_sov_client_file ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at, incarnation`, args);
  const runs: Array<{ incarnation: string; volser: string; first_seq: string }> = rows.length
    ? await m.query('SELECT incarnation, volser, first_seq FROM catalog_sov_run WHERE incarnation = ANY($1) ORDER BY incarnation, first_seq', [rows.map((r) => r.incarnation)])
    : [];
  const out: ClientFileView[] = [];
  for (const r of rows) {
    const state = stateOf(r);
    if (f.state !== undefined && state !== f.state) continue;
    const mine = runs.filter((x) => x.incarnation === r.incarnation);
    const volsers: string[] = [];
    for (const x of mine) if (volsers[volsers.length - 1] !== x.volser) volsers.push(x.volser);
    const v: ClientFileView = {
      incarnation: String(r.incarnation),
      clientFile: String(r.client_file),
      stream: String(r.stream),
      state,
      openedAt: Number(r.opened_at),
      superblocks: Number(r.superblocks),
      bytes: Number(r.bytes),
      volsers,
      runs: mine.length,
    };
    if (r.dbid !== null) v.dbid = Number(r.dbid);
    if (r.dsid !== null) v.dsid = r.dsid;
    if (r.kind !== null) v.kind = String(r.kind);
    if (r.expires_at !== null) v.expiresAt = Number(r.expires_at);
    if (r.description !== null) v.description = String(r.description);
    if (r.closed_at !== null) v.closedAt = Number(r.closed_at);
    if (r.sha256 !== null) v.sha256 = String(r.sha256);
    if (r.reason !== null) v.reason = String(r.reason);
    out.push(v);
  }
  return out;
}

export interface PlacementsView {
  incarnation: string;
  clientFile: string;
  stream: string;
  state: ClientFileState;
  open: OpenRecord;
  close: { superblocks: number; bytes: number; sha256: string; closedAt: number } | null;
  runs: Array<{ volser: string; position: number; length: number; firstSeq: number; superblocks: number; last: boolean; bytes: number; crcs: number[] }>;
  volsers: string[];
}

/** A client file's placement index: its open record (codec) and its runs in sequence order. Null when unknown. */
export async function queryPlacements(m: Pick<EntityManager, 'query'>, incarnation: string): Promise<PlacementsView | null> {
  const rows: Row[] = await m.query('SELECT * FROM catalog_sov_client_file WHERE incarnation = $1', [incarnation]);
  const r = rows[0];
  if (r === undefined) return null;
  const runs: Row[] = await m.query('SELECT * FROM catalog_sov_run WHERE incarnation = $1 ORDER BY first_seq, volser, position', [incarnation]);
  const volsers: string[] = [];
  for (const x of runs) if (volsers[volsers.length - 1] !== x.volser) volsers.push(String(x.volser));
  return {
    incarnation,
    clientFile: String(r.client_file),
    stream: String(r.stream),
    state: stateOf(r),
    open: openRecordOfRow(r),
    close: r.state === 'closed' ? { superblocks: Number(r.superblocks), bytes: Number(r.bytes), sha256: String(r.sha256), closedAt: Number(r.closed_at) } : null,
    runs: runs.map((x) => ({
      volser: String(x.volser),
      position: Number(x.position),
      length: Number(x.length),
      firstSeq: Number(x.first_seq),
      superblocks: Number(x.superblocks),
      last: Boolean(x.last),
      bytes: Number(x.bytes),
      crcs: (x.crcs as string[]).map(Number),
    })),
    volsers,
  };
}

/**
 * The catalog's on-volume facts as libs/tape's catalog state (client files with their open, close
 * and abort records and runs; volumes not in scratch): its catalogDigest equals the digest a
 * SCANSTREAMFILE of the same volumes computes.
 */
export async function volumeFacts(m: Pick<EntityManager, 'query'>): Promise<CatalogState> {
  const state = initialCatalog();
  for (const r of (await m.query('SELECT * FROM catalog_sov_client_file')) as Row[]) {
    const inc = String(r.incarnation);
    state.files.set(inc, {
      incarnation: inc,
      open: openRecordOfRow(r),
      runs: new Map(),
      close: r.state === 'closed' ? { incarnation: inc, superblocks: Number(r.superblocks), bytes: Number(r.bytes), sha256: String(r.sha256), closedAt: Number(r.closed_at) } : null,
      abort: r.state === 'aborted' ? { incarnation: inc, reason: String(r.reason), abortedAt: Number(r.aborted_at) } : null,
      expired: r.expired_at !== null,
    });
  }
  for (const x of (await m.query('SELECT * FROM catalog_sov_run')) as Row[]) {
    const run: RunPlacement = {
      volser: String(x.volser),
      incarnation: String(x.incarnation),
      firstSeq: Number(x.first_seq),
      count: Number(x.superblocks),
      last: Boolean(x.last),
      position: Number(x.position),
      extent: Number(x.length),
      bytes: Number(x.bytes),
      crcs: (x.crcs as string[]).map(Number),
    };
    state.files.get(run.incarnation)?.runs.set(`${run.volser}@${run.position}`, run);
  }
  for (const v of (await m.query(`SELECT * FROM catalog_sov_volume WHERE status <> 'scratch'`)) as Row[])
    state.volumes.set(String(v.volser), {
      volser: String(v.volser),
      stream: String(v.stream),
      streamFile: String(v.stream_file),
      sequence: Number(v.volume_seq),
      previousVolser: v.previous_volser === null ? null : String(v.previous_volser),
      nextVolser: v.next_volser === null ? null : String(v.next_volser),
      finished: v.status === 'full',
    });
  return state;
}

/** catalogDigest of the on-volume facts. */
export async function volumeFactsDigest(m: Pick<EntityManager, 'query'>): Promise<string> {
  return catalogDigest(await volumeFacts(m));
}
