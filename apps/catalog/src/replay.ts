/**
 * Rebuilds the catalog's read models from the log start of dsf.events, dsf.dlog and sov.events into a fresh schema, under
 * a lock (one rebuild at a time), and returns the state digest, which equals the live
 * catalog's digest at the same position.
 *
 *   KAFKA_BROKERS=... DATABASE_URL=... node infra/launcher/bin/run-ts.js apps/catalog/src/replay.ts [--to-offset N] [--schema NAME] [--keep]
 *
 * --to-offset N applies the records at offsets ≤ N of each partition; --keep leaves the
 * rebuilt schema in place (default: dropped after the digest is printed).
 */
import { Topic } from '@deltaflow/contracts';
import { brokersFromEnv, type PartitionKey } from '@deltaflow/service-kit';
import { foldInto, foldLockKey } from './audit/fold';
import { CatalogError } from './errors';

export interface ReplayOptions {
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  /** apply offsets ≤ toOffset of each partition (default: everything up to the current end) */
  readonly toOffset?: bigint;
  /** or: per topic partition, apply the offsets below these (an as-of's positions) */
  readonly until?: ReadonlyMap<PartitionKey, bigint>;
  /** the schema to rebuild into (default `catalog_replay`); dropped and recreated */
  readonly schema?: string;
  /** keep the rebuilt schema (default false: drop it after computing the digest) */
  readonly keep?: boolean;
  readonly log?: (msg: string) => void;
}

export interface ReplayResult {
  readonly digest: string;
  readonly rows: Record<string, number>;
  readonly records: number;
  readonly skipped: number;
  readonly schema: string;
}

const TOPICS = [Topic.dsfEvents, Topic.dlog, Topic.sovEvents] as const;

/** The advisory lock key that serialises rebuilds into one schema. */
export const replayLockKey = foldLockKey;

/** Rebuilds the read models from the log and returns their digest (audit/fold.ts: a batch per transaction, as the live catalog). */
export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const schema = opts.schema ?? 'catalog_replay';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema) || schema === 'public') throw new CatalogError('VALIDATION', `--schema: expected a lower-case identifier other than public, got ${JSON.stringify(schema)}`);
  const cut = opts.until ? { until: opts.until } : opts.toOffset !== undefined ? { lastOffset: opts.toOffset } : ('all' as const);
  const r = await foldInto({
    brokers: opts.brokers,
    databaseUrl: opts.databaseUrl,
    schema,
    keep: opts.keep === true,
    steps: [{ topics: TOPICS, cut: () => cut }],
    ...(opts.log ? { log: opts.log } : {}),
  });
  return { digest: r.digest, rows: r.rows, records: r.records, skipped: r.skipped, schema };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const brokers = brokersFromEnv();
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new CatalogError('VALIDATION', 'DATABASE_URL is required');
  const to = arg('--to-offset');
  if (to !== undefined && !/^(0|[1-9][0-9]{0,18})$/.test(to)) throw new CatalogError('VALIDATION', `--to-offset: expected a non-negative integer, got ${JSON.stringify(to)}`);
  const result = await replay({
    brokers,
    databaseUrl,
    ...(to !== undefined ? { toOffset: BigInt(to) } : {}),
    ...(arg('--schema') ? { schema: arg('--schema') } : {}),
    keep: process.argv.includes('--keep'),
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(`${JSON.stringify({ digest: result.digest, rows: result.rows, records: result.records, skipped: result.skipped })}\n`);
}

if (require.main === module || process.argv[1] === __filename) {
  main().catch((err) => {
    process.stderr.write(`replay: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
