/**
 * The catalog's batched apply: the records of one topic partition (a fetched batch, ascending
 * offsets) applied to every read model in ONE transaction, with each projection's checkpoint moved
 * in that same transaction. Idempotent as applyOnce is: the checkpoints are locked first, and a
 * record below a projection's checkpoint is not applied to it again (a redelivered batch, or one
 * that overlaps what was applied, changes nothing). The projections' writes go through a
 * StatementBatch (queued, one round trip per flush), in the order the one-record-at-a-time apply
 * runs them: record by record, projections in PROJECTIONS order. So the rows, and the digest, are
 * those of applying the records one by one.
 */
import type { DataSource } from 'typeorm';
import type { PoolClient } from 'pg';
import { CatalogError } from './errors';
import type { ApplyContext, CatalogEvent, Projection } from './projection';
import { StatementBatch } from './statement-batch';

export interface RecordAt {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface CatalogRecord {
  readonly event: CatalogEvent;
  readonly at: RecordAt;
  /** the record's raw value as read from the log (hashed into the partition's chain) */
  readonly value?: Buffer | null;
}

/** What one batch did: records new to at least one projection, and the statements and round trips it took. */
export interface BatchApplied {
  readonly applied: number;
  readonly statements: number;
  readonly roundTrips: number;
}

/** What every batch applied in this process did, summed (for benchmarks: statements and round trips per event). */
export const applyTotals = { batches: 0, records: 0, statements: 0, roundTrips: 0 };

const OFFSET = /^(0|[1-9][0-9]{0,18})$/;

/**
 * Hooks run inside the batch's transaction, after the checkpoints are locked: `before` sees the
 * records (e.g. the hash chain: hash-chain.ts) and may add its own writes to the same batch.
 */
export interface BatchHook {
  before(m: StatementBatch, records: readonly CatalogRecord[]): Promise<void>;
}

/** Applies the records of one topic partition in one transaction (see the file comment). */
export async function applyRecords(ds: DataSource, projections: readonly Projection[], records: readonly CatalogRecord[], hook?: BatchHook): Promise<BatchApplied> {
  if (records.length === 0) return { applied: 0, statements: 0, roundTrips: 0 };
  const { topic, partition } = records[0].at;
  let previous = -1n;
  const offsets: bigint[] = [];
  for (const r of records) {
    if (r.at.topic !== topic || r.at.partition !== partition) throw new CatalogError('VALIDATION', `a batch holds one topic partition: ${topic}[${partition}] and ${r.at.topic}[${r.at.partition}]`);
    if (!OFFSET.test(r.at.offset) || BigInt(r.at.offset) <= previous) throw new CatalogError('VALIDATION', `a batch's offsets ascend: ${r.at.offset} after ${previous}`);
    previous = BigInt(r.at.offset);
    offsets.push(previous);
  }
  const involved = projections.filter((p) => records.some((r) => p.canHandle(r.event)));
  const qr = ds.createQueryRunner();
  const client = (await qr.connect()) as PoolClient;
  const batch = new StatementBatch(client);
  try {
    await client.query('BEGIN');
    const next = await lockCheckpoints(client, involved.map((p) => p.name), topic, partition);
    if (hook) await hook.before(batch, records);
    const ctx: ApplyContext = { memo: new Map(), atEnd: new Map() };
    for (const p of involved) {
      if (!p.prepare) continue;
      const from = next.get(p.name) ?? 0n;
      const events = records.filter((r, i) => offsets[i] >= from && p.canHandle(r.event)).map((r) => r.event);
      if (events.length > 0) await p.prepare(batch, events, ctx);
    }
    const last = new Map<string, bigint>();
    let applied = 0;
    for (const [i, r] of records.entries()) {
      const offset = offsets[i];
      let fresh = false;
      for (const p of involved) {
        if (!p.canHandle(r.event) || offset < (next.get(p.name) ?? 0n)) continue;
        await p.apply(batch, r.event, ctx);
        last.set(p.name, offset);
        fresh = true;
      }
      if (fresh) applied++;
    }
    for (const write of ctx.atEnd.values()) await write(batch);
    // every moved checkpoint in one statement
    if (last.size > 0)
      await batch.query(
        'UPDATE projection_checkpoint c SET next_offset = x.next FROM unnest($3::text[], $4::bigint[]) AS x(projection, next) WHERE c.projection = x.projection AND c.topic = $1 AND c.partition = $2',
        [topic, partition, [...last.keys()], [...last.values()].map((o) => (o + 1n).toString())],
      );
    await batch.flush();
    await client.query('COMMIT');
    const done = { applied, statements: batch.statements, roundTrips: batch.roundTrips + 3 };
    applyTotals.batches++;
    applyTotals.records += records.length;
    applyTotals.statements += done.statements;
    applyTotals.roundTrips += done.roundTrips;
    return done;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    await batch.reset();
    throw err;
  } finally {
    await qr.release();
  }
}

/** Creates the missing checkpoint rows, locks them (in name order: no deadlock between two appliers) and returns each next offset. */
async function lockCheckpoints(client: PoolClient, names: readonly string[], topic: string, partition: number): Promise<Map<string, bigint>> {
  const sorted = [...names].sort();
  if (sorted.length === 0) return new Map();
  await client.query(
    `INSERT INTO projection_checkpoint (projection, topic, partition, next_offset) SELECT unnest($1::text[]), $2, $3, 0
     ON CONFLICT (projection, topic, partition) DO NOTHING`,
    [sorted, topic, partition],
  );
  const rows = await client.query<{ projection: string; next_offset: string }>(
    'SELECT projection, next_offset FROM projection_checkpoint WHERE projection = ANY($1::text[]) AND topic = $2 AND partition = $3 ORDER BY projection FOR UPDATE',
    [sorted, topic, partition],
  );
  return new Map(rows.rows.map((r) => [r.projection, BigInt(r.next_offset)]));
}
