/**
 * Rebuilds the catalog's read models from offset 0 of dsf.events into a fresh schema, under
 * a lock (one rebuild at a time), and returns the state digest, which equals the live
 * catalog's digest at the same position.
 *
 *   KAFKA_BROKERS=... DATABASE_URL=... node infra/launcher/bin/run-ts.js apps/catalog/src/replay.ts [--to-offset N] [--schema NAME] [--keep]
 *
 * --to-offset N applies the records at offsets ≤ N of each partition; --keep leaves the
 * rebuilt schema in place (default: dropped after the digest is printed).
 */
import { randomUUID } from 'node:crypto';
import { decodeFrom } from '@deltaflow/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { CatalogError } from './errors';
import { applyRecord, openCatalogDatabase, stateDigest } from './read-models';

export interface ReplayOptions {
  readonly brokers: string[];
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

const TOPIC = 'dsf.events';

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

async function consumeAll(ds: Parameters<typeof applyRecord>[0], opts: ReplayOptions, log: (m: string) => void): Promise<{ records: number; skipped: number }> {
  const kafka = new Kafka({ clientId: 'catalog-replay', brokers: opts.brokers, logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  // Where to stop on each partition: the end as of now, or just after --to-offset.
  const targets = new Map<number, bigint>();
  try {
    const topics = await admin.listTopics();
    if (topics.includes(TOPIC)) {
      for (const p of await admin.fetchTopicOffsets(TOPIC)) {
        const high = BigInt(p.high);
        const end = opts.toOffset !== undefined && opts.toOffset + 1n < high ? opts.toOffset + 1n : high;
        if (end > 0n) targets.set(p.partition, end);
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (targets.size === 0) return { records: 0, skipped: 0 };
  log(`replaying ${TOPIC} up to ${[...targets].map(([p, e]) => `[${p}]@${e}`).join(' ')}`);

  // A throw-away group that commits nothing: the replay never moves the live catalog's offsets.
  const consumer = kafka.consumer({ groupId: `catalog-replay-${randomUUID()}`, sessionTimeout: 30_000 });
  let records = 0;
  let skipped = 0;
  const remaining = new Set(targets.keys());
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = targets.get(partition);
            if (end === undefined || !remaining.has(partition)) return;
            const offset = BigInt(message.offset);
            if (offset < end) {
              let event;
              try {
                event = decodeFrom(TOPIC, message.value);
              } catch {
                // The live catalog dead-lettered it: no row change.
                skipped++;
              }
              if (event) {
                await applyRecord(ds, event, { topic: TOPIC, partition, offset: message.offset });
                records++;
              }
            }
            if (offset + 1n >= end) {
              remaining.delete(partition);
              if (remaining.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return { records, skipped };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  const databaseUrl = process.env.DATABASE_URL;
  if (brokers.length === 0 || !databaseUrl) throw new CatalogError('VALIDATION', 'KAFKA_BROKERS and DATABASE_URL are required');
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
