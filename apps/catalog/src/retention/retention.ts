/**
 * The data set retention as the catalog applies it (docs/ARCHITECTURE.md, "Retention"): for each
 * database, its policy (catalog_retention, else the configured default), its saves as the
 * retention sees them (catalog_save: directory or stream, expired or not, the unloaded DSIM that
 * goes with an online save, restores still reading them) and @deltaflow/save-chain
 * dataSetRetention's decision. `dsf expire` sends one DataSetExpireRequested per expiring save
 * (the save writer deletes the files); `dsf retention list` and `dsf report` show the decision.
 */
import type { MessageOfType } from '@deltaflow/contracts';
import { formatDsid, parseDsid, type Dsid } from '@deltaflow/dsid';
import { dataSetRetention, describeRetentionPolicy, type DataSetRetentionPolicy, type RetentionSave } from '@deltaflow/save-chain';
import type { RetentionView } from '@deltaflow/catalog-api';
import type { Queryable } from '../projection';

export interface RetentionDefaults {
  readonly keepSaves?: number;
  readonly keepDays?: number;
}

export type { RetentionView };

type Row = Record<string, unknown>;

export async function retentionPolicyOf(m: Queryable, dbid: number, defaults: RetentionDefaults): Promise<{ policy: DataSetRetentionPolicy; source: 'set' | 'default'; setAt?: number }> {
  const [r]: Row[] = await m.query('SELECT keep_saves, keep_days, set_at FROM catalog_retention WHERE dbid = $1', [dbid]);
  if (r === undefined) return { policy: { ...(defaults.keepSaves ? { keepSaves: defaults.keepSaves } : {}), ...(defaults.keepDays ? { keepDays: defaults.keepDays } : {}) }, source: 'default' };
  return {
    policy: { ...(r.keep_saves !== null ? { keepSaves: Number(r.keep_saves) } : {}), ...(r.keep_days !== null ? { keepDays: Number(r.keep_days) } : {}) },
    source: 'set',
    setAt: Number(r.set_at),
  };
}

/** The retention of one database as of `asOf`: what it keeps and why, what is due, what went. */
export async function retentionOf(m: Queryable, dbid: number, defaults: RetentionDefaults, asOf: number): Promise<RetentionView> {
  const { policy, source, setAt } = await retentionPolicyOf(m, dbid, defaults);
  const rows: Row[] = await m.query(
    `SELECT correlation_id, dsid, kind, status, path, completed_at, expired_at, expiry_reason, expired_names FROM catalog_save
      WHERE dbid = $1 AND status IN ('started', 'completed') AND dsid IS NOT NULL AND kind IS NOT NULL ORDER BY started_at, correlation_id`,
    [dbid],
  );
  const dsims: Row[] = await m.query(`SELECT dsid, path FROM catalog_dsim WHERE dbid = $1 AND status = 'unloaded' AND path IS NOT NULL AND path NOT LIKE 'stream:%'`, [dbid]);
  const dsimOf = new Map(dsims.map((d) => [String(d.dsid), String(d.path)]));
  // a save to a stream lives as long as a closed, unexpired client file of its name (SOVADM expiry)
  // (by name only: a client file whose open record named no database still counts)
  const liveFiles: Row[] = await m.query(`SELECT DISTINCT stream, client_file FROM catalog_sov_client_file WHERE state = 'closed' AND expired_at IS NULL`);
  const liveStream = new Set(liveFiles.map((f) => `stream:${String(f.stream)}/${String(f.client_file)}`));
  const restores: Row[] = await m.query(`SELECT correlation_id, inputs FROM catalog_restore WHERE dbid = $1 AND status = 'started'`, [dbid]);
  const readers = new Map<string, string>();
  for (const r of restores) for (const i of Array.isArray(r.inputs) ? (r.inputs as string[]) : []) readers.set(i, `restore ${String(r.correlation_id)}`);

  const saves: RetentionSave[] = [];
  const paths = new Map<string, string>();
  const expired: RetentionView['expired'] = [];
  for (const r of rows) {
    let dsid: Dsid;
    try {
      dsid = parseDsid(String(r.dsid));
    } catch {
      continue; // a DSID this build cannot read: the retention leaves the save alone
    }
    const id = String(r.correlation_id);
    const p = r.path === null ? undefined : String(r.path);
    if (p !== undefined) paths.set(id, p);
    const stream = p?.startsWith('stream:') ?? false;
    const dsimFile = dsimOf.get(String(r.dsid));
    const files = p === undefined || stream ? [] : [p, ...(dsimFile ? [dsimFile] : [])];
    const inUse = files.map((f) => readers.get(f)).find((x) => x !== undefined);
    if (r.expired_at !== null) expired.push({ correlationId: id, dsid: String(r.dsid), expiredAt: Number(r.expired_at), reason: String(r.expiry_reason ?? ''), names: (r.expired_names as string[] | null) ?? [] });
    saves.push({
      id,
      dsid,
      kind: r.kind === 'full' ? 'full' : 'delta',
      ...(r.status === 'completed' ? { completedAt: Number(r.completed_at) } : {}),
      expirable: p !== undefined && !stream,
      // a save to a stream whose client file expired protects nothing any more
      expired: r.expired_at !== null || (stream && r.status === 'completed' && !liveStream.has(p!)),
      files,
      ...(inUse ? { inUse } : {}),
    });
  }
  const d = dataSetRetention({ policy, saves, now: asOf });
  return {
    dbid,
    policy,
    source,
    ...(setAt !== undefined ? { setAt } : {}),
    rule: describeRetentionPolicy(policy),
    asOf,
    keep: d.keep.map((k) => ({ correlationId: k.id, dsid: formatDsid(k.dsid), ...(paths.has(k.id) ? { path: paths.get(k.id)! } : {}), why: k.why })),
    expire: d.expire.map((e) => ({ correlationId: e.id, dsid: formatDsid(e.dsid), names: [...e.files], why: e.why })),
    expired,
  };
}

/** Every database the catalog has saves of, with its retention as of `asOf`. */
export async function retentionOfAll(m: Queryable, defaults: RetentionDefaults, asOf: number): Promise<RetentionView[]> {
  const dbids: Row[] = await m.query('SELECT DISTINCT dbid FROM catalog_save UNION SELECT dbid FROM catalog_retention ORDER BY dbid');
  const out: RetentionView[] = [];
  for (const r of dbids) out.push(await retentionOf(m, Number(r.dbid), defaults, asOf));
  return out;
}

export interface DataSetExpiryResult {
  readonly databases: Array<{ dbid: number; rule: string; source: 'set' | 'default'; expired: RetentionView['expire']; kept: number }>;
}

/** The DataSetExpireRequested commands of a retention pass as of `asOf` (sent unless a dry run). */
export async function expireDataSets(
  m: Queryable,
  defaults: RetentionDefaults,
  asOf: number,
  send: (commands: Array<MessageOfType<'DataSetExpireRequested'>>) => Promise<void>,
  opts: { dryRun?: boolean; correlationId: string },
): Promise<DataSetExpiryResult> {
  const views = await retentionOfAll(m, defaults, asOf);
  const commands: Array<MessageOfType<'DataSetExpireRequested'>> = [];
  for (const v of views)
    for (const e of v.expire)
      commands.push({
        type: 'DataSetExpireRequested',
        correlationId: `${opts.correlationId}.${v.dbid}.${e.correlationId}`.slice(0, 128),
        dbid: v.dbid,
        save: e.correlationId,
        dsid: parseDsid(e.dsid),
        names: e.names,
        reason: e.why,
        asOf,
      });
  if (!opts.dryRun && commands.length) await send(commands);
  return { databases: views.map((v) => ({ dbid: v.dbid, rule: v.rule, source: v.source, expired: v.expire, kept: v.keep.length })) };
}
