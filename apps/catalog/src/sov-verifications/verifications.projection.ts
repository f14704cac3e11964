/**
 * Verifications read model: every VolumeVerified and ClientFileVerified the multiplexers reported
 * (asked by an operator, or by the scrub), with their problems (volume and position, what), newest
 * first in `GET /verifications`; `/volumes` shows each volume's latest.
 */
import type { EntityManager } from 'typeorm';
import type { CatalogEvent, Projection } from '../projection';

export const verificationsProjection: Projection = {
  name: 'catalog.sov-verifications',
  tables: [{ name: 'catalog_sov_verification', key: 'subject, key, verified_at' }],
  canHandle: (e) => e.type === 'VolumeVerified' || e.type === 'ClientFileVerified',
  apply: applyVerification,
};

async function applyVerification(m: EntityManager, e: CatalogEvent): Promise<void> {
  if (e.type !== 'VolumeVerified' && e.type !== 'ClientFileVerified') return;
  const volume = e.type === 'VolumeVerified';
  const details = volume ? { status: e.status, end: e.end, runs: e.runs, superblocks: e.superblocks } : { superblocks: e.superblocks, bytes: e.bytes, sha256: e.sha256 ?? null, volsers: e.volsers };
  await m.query(
    `INSERT INTO catalog_sov_verification (subject, key, stream, volser, client_file, incarnation, ok, problem_count, problems, details, trigger, correlation_id, verified_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (subject, key, verified_at) DO NOTHING`,
    [
      volume ? 'volume' : 'client-file',
      volume ? e.volser : `${e.stream}/${e.clientFile}/${e.incarnation ?? ''}`,
      e.stream,
      volume ? e.volser : null,
      volume ? null : e.clientFile,
      volume ? null : (e.incarnation ?? null),
      e.ok,
      volume ? e.problemCount : e.problems.length,
      JSON.stringify(e.problems),
      JSON.stringify(details),
      e.trigger,
      e.correlationId ?? null,
      e.occurredAt,
    ],
  );
}

export interface VerificationView {
  subject: 'volume' | 'client-file';
  stream: string;
  volser?: string;
  clientFile?: string;
  incarnation?: string;
  ok: boolean;
  problemCount: number;
  problems: Array<{ volser?: string; position?: number; kind: string; reason: string }>;
  details: Record<string, unknown>;
  trigger: 'operator' | 'scrub';
  correlationId?: string;
  verifiedAt: number;
}

type Row = Record<string, string | number | boolean | null | object>;

/** Verifications, newest first, filtered by any of stream, volser, client file name, incarnation, correlation id, outcome. */
export async function queryVerifications(
  m: Pick<EntityManager, 'query'>,
  f: { stream?: string; volser?: string; clientFile?: string; incarnation?: string; correlationId?: string; ok?: boolean; limit?: number },
): Promise<VerificationView[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.stream !== undefined) where.push(`stream = $${args.push(f.stream)}`);
  if (f.volser !== undefined) where.push(`volser = $${args.push(f.volser)}`);
  if (f.clientFile !== undefined) where.push(`client_file = $${args.push(f.clientFile)}`);
  if (f.incarnation !== undefined) where.push(`incarnation = $${args.push(f.incarnation)}`);
  if (f.correlationId !== undefined) where.push(`correlation_id = $${args.push(f.correlationId)}`);
  if (f.ok !== undefined) where.push(`ok = $${args.push(f.ok)}`);
  const rows: Row[] = await m.query(
    `SELECT * FROM catalog_sov_verification ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY verified_at DESC, key LIMIT $${args.push(f.limit ?? 100)}`,
    args,
  );
  return rows.map((r) => {
    const v: VerificationView = {
      subject: r.subject as VerificationView['subject'],
      stream: String(r.stream),
      ok: Boolean(r.ok),
      problemCount: Number(r.problem_count),
      problems: r.problems as VerificationView['problems'],
      details: r.details as Record<string, unknown>,
      trigger: r.trigger as VerificationView['trigger'],
      verifiedAt: Number(r.verified_at),
    };
    if (r.volser !== null) v.volser = String(r.volser);
    if (r.client_file !== null) v.clientFile = String(r.client_file);
    if (r.incarnation !== null) v.incarnation = String(r.incarnation);
    if (r.correlation_id !== null) v.correlationId = String(r.correlation_id);
    return v;
  });
}

/** The latest verification of each volume, by volser. */
export async function latestVolumeVerifications(m: Pick<EntityManager, 'query'>, stream?: string): Promise<Map<string, { at: number; ok: boolean; problemCount: number; trigger: string }>> {
  const rows: Row[] = await m.query(
    `SELECT DISTINCT ON (volser) volser, verified_at, ok, problem_count, trigger FROM catalog_sov_verification
     WHERE subject = 'volume' ${stream ? 'AND stream = $1' : ''} ORDER BY volser, verified_at DESC`,
    stream ? [stream] : [],
  );
  return new Map(rows.map((r) => [String(r.volser), { at: Number(r.verified_at), ok: Boolean(r.ok), problemCount: Number(r.problem_count), trigger: String(r.trigger) }]));
}
