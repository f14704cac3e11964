/**
 * Folding the catalog's topics into a scratch schema up to a cut: the mechanism behind the
 * state at a past point (as-of.ts), `dsf catalog verify` (verify.ts) and replay.ts. Each topic
 * partition is read from its log start and a PREFIX of it is applied (so the state is one the
 * catalog could have been in), through the live catalog's own batched apply.
 *
 * A topic's cut is one of:
 * - `{ lastOffset: N }`: the records at offsets <= N of every partition;
 * - `{ time: T }`: of each partition, the records before the first one appended after T (Kafka's
 *   record timestamp, ms); a later record with an earlier timestamp (another producer's clock)
 *   is not applied either, so the applied records stay a prefix;
 * - `{ until: Map }`: per partition, the records below the given offset (a position reported
 *   by an earlier fold, e.g. an as-of's `positions`);
 * - 'all': up to the partition's end when the fold starts.
 */
import { randomBytes } from 'node:crypto';
import { partitionKey, TopicReader, type PartitionKey, type ReadRecord } from '@deltaflow/service-kit';
import type { TopicName } from '@deltaflow/contracts';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { CatalogError } from '../errors';
import type { CatalogEvent } from '../projection';
import { applyCatalogRecords, openCatalogDatabase, stateDigest } from '../read-models';
import type { BatchHook } from '../apply-batch';

export type TopicCut = 'all' | { readonly lastOffset: bigint } | { readonly time: number } | { readonly until: ReadonlyMap<PartitionKey, bigint> };

export interface FoldResult<T> {
  readonly digest: string;
  readonly rows: Record<string, number>;
  /** per topic partition, the next offset after the last record applied (absent: nothing applied) */
  readonly positions: Map<PartitionKey, bigint>;
  /** the latest record timestamp applied per topic (ms) */
  readonly latest: Map<string, number>;
  readonly records: number;
  readonly skipped: number;
  readonly inspected: T;
}

export interface FoldOptions<T> {
  readonly brokers: readonly string[];
  readonly databaseUrl: string;
  /** the scratch schema (default: a fresh catalog_at_<random>); dropped before and, unless keep, after */
  readonly schema?: string;
  readonly keep?: boolean;
  /** the topics to fold, in order, each with its cut; a later step may depend on an earlier one's result */
  readonly steps: ReadonlyArray<{ readonly topics: readonly TopicName[]; readonly cut: (previous: { latest: Map<string, number> }) => TopicCut }>;
  /** reads what the caller wants from the folded schema before it is dropped */
  readonly inspect?: (ds: DataSource) => Promise<T>;
  /** runs inside each batch's transaction (the hash chain when verifying) */
  readonly hook?: BatchHook;
  /** each record as read (in partition order), applied or not: for the hash chain check */
  readonly onRead?: (r: ReadRecord<CatalogEvent>, applied: boolean) => void;
  readonly log?: (msg: string) => void;
}

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
export const scratchSchema = () => `catalog_at_${randomBytes(6).toString('hex')}`;

/** The advisory lock key that serialises folds into one schema. */
export const foldLockKey = (schema: string) => `deltaflow-catalog-replay:${schema}`;

/** Folds the steps' topics into a fresh scratch schema (under a lock on it), returns the digest and what inspect read. */
export async function foldInto<T = undefined>(opts: FoldOptions<T>): Promise<FoldResult<T>> {
  const schema = opts.schema ?? scratchSchema();
  if (!SCHEMA.test(schema) || schema === 'public') throw new CatalogError('VALIDATION', `schema: expected a lower-case identifier other than public, got ${JSON.stringify(schema)}`);
  const lock = new Client({ connectionString: opts.databaseUrl });
  await lock.connect();
  try {
    const got = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [foldLockKey(schema)]);
    if (!got.rows[0]?.ok) throw new CatalogError('CONCURRENCY', `another replay into schema ${schema} is running`);
    await lock.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    const ds = await openCatalogDatabase(opts.databaseUrl, schema);
    try {
      const positions = new Map<PartitionKey, bigint>();
      const latest = new Map<string, number>();
      let records = 0;
      let skipped = 0;
      for (const step of opts.steps) {
        const r = await foldStep(ds, opts, step.topics, step.cut({ latest }), positions, latest);
        records += r.records;
        skipped += r.skipped;
      }
      const { digest, rows } = await stateDigest(ds);
      const inspected = opts.inspect ? await opts.inspect(ds) : (undefined as T);
      return { digest, rows, positions, latest, records, skipped, inspected };
    } finally {
      await ds.destroy();
      if (!opts.keep) await lock.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  } finally {
    await lock.end();
  }
}

async function foldStep<T>(
  ds: DataSource,
  opts: FoldOptions<T>,
  topics: readonly TopicName[],
  cut: TopicCut,
  positions: Map<PartitionKey, bigint>,
  latest: Map<string, number>,
): Promise<{ records: number; skipped: number }> {
  let records = 0;
  let skipped = 0;
  const closed = new Set<PartitionKey>(); // time cuts: partitions past their cut
  const until =
    cut === 'all' || 'time' in cut
      ? ('end' as const)
      : 'lastOffset' in cut
        ? (_t: string, _p: number, end: bigint) => (cut.lastOffset + 1n < end ? cut.lastOffset + 1n : end)
        : (t: string, p: number, end: bigint) => {
            const u = cut.until.get(partitionKey(t, p)) ?? 0n;
            return u < end ? u : end;
          };
  // a throw-away reader: never moves the live catalog's offsets
  const reader = new TopicReader<CatalogEvent>({
    brokers: opts.brokers,
    clientId: 'catalog-fold',
    topics: [...topics],
    until,
    // one partition batch at a time, each in its own transaction (as the live catalog)
    partitionsConcurrently: 1,
    onBatch: async (batch) => {
      const keep: typeof batch = [];
      for (const r of batch) {
        const key = partitionKey(r.at.topic, r.at.partition);
        let applied = !closed.has(key);
        if (applied && cut !== 'all' && 'time' in cut && r.timestamp > cut.time) {
          closed.add(key);
          applied = false;
        }
        opts.onRead?.(r, applied);
        if (!applied) continue;
        keep.push(r);
        positions.set(key, BigInt(r.at.offset) + 1n);
        latest.set(r.at.topic, Math.max(latest.get(r.at.topic) ?? 0, r.timestamp));
      }
      if (keep.length > 0) await applyCatalogRecords(ds, keep.map((r) => ({ event: r.message, at: r.at, value: r.value })), opts.hook);
      records += keep.length;
    },
    // the live catalog dead-lettered it: no row change
    onUndecodable: () => void skipped++,
    ...(opts.log ? { log: opts.log } : {}),
  });
  try {
    await reader.start();
    await reader.caughtUp;
  } finally {
    await reader.stop();
  }
  return { records, skipped };
}
