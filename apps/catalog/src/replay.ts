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
import { brokersFromEnv, TopicReader } from '@deltaflow/service-kit';
import { Client } from 'pg';
import { CatalogError } from './errors';
import type { CatalogEvent } from './projection';
import { applyCatalogRecords, openCatalogDatabase, stateDigest } from './read-models';

export interface ReplayOptions {
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  /** apply offsets ≤ toOffset of each partition (default: everything up to the current end) */
  readonly toOffset?: bigint;
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
export const replayLockKey = (schema: string) => `deltaflow-catalog-replay:${schema}`;

/** Rebuilds the read models from the log and returns their digest. */
export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const schema = opts.schema ?? 'catalog_replay';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema) || schema === 'public') throw new CatalogError('VALIDATION', `--schema: expected a lower-case identifier other than public, got ${JSON.stringify(schema)}`);
  const log = opts.log ?? (() => undefined);
  const lock = new Client({ connectionString: opts.databaseUrl });
  await lock.connect();
  try {
    const got = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [replayLockKey(schema)]);
    if (!got.rows[0]?.ok) throw new CatalogError('CONCURRENCY', `another replay into schema ${schema} is running`);
    await lock.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    const ds = await openCatalogDatabase(opts.databaseUrl, schema);
    try {
      const { records, skipped } = await consumeAll(ds, opts, log);
      const { digest, rows } = await stateDigest(ds);
      return { digest, rows, records, skipped, schema };
    } finally {
      await ds.destroy();
      if (!opts.keep) await lock.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  } finally {
    await lock.end();
  }
}

async function consumeAll(ds: Parameters<typeof applyCatalogRecords>[0], opts: ReplayOptions, log: (m: string) => void): Promise<{ records: number; skipped: number }> {
  let records = 0;
  let skipped = 0;
  // Where to stop on each partition: the end as of now, or just after --to-offset.
  const to = opts.toOffset;
  const until = to === undefined ? ('end' as const) : (_t: string, _p: number, end: bigint) => (to + 1n < end ? to + 1n : end);
  // A throw-away reader: the replay never moves the live catalog's offsets.
  const reader = new TopicReader<CatalogEvent>({
    brokers: opts.brokers,
    clientId: 'catalog-replay',
    topics: [...TOPICS],
    until,
    // a fetched batch of one partition per transaction (apply-batch.ts), as the live catalog does
    onBatch: async (batch) => {
      await applyCatalogRecords(ds, batch.map((r) => ({ event: r.message, at: r.at, value: r.value })));
      records += batch.length;
    },
    // the live catalog dead-lettered it: no row change
    onUndecodable: () => void skipped++,
    log,
  });
  try {
    await reader.start();
    await reader.caughtUp;
  } finally {
    await reader.stop();
  }
  return { records, skipped };
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
