/**
 * Projection checkpoints: the next offset to apply per (projection, topic, partition),
 * written in the same transaction as the projection's rows, so that a redelivered record
 * changes nothing and a failed one leaves neither rows nor checkpoint.
 */
import type { DataSource, EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { PersistenceError } from './errors';

export class CheckpointMigration1700000000000 implements MigrationInterface {
  name = 'CheckpointMigration1700000000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE projection_checkpoint (
      projection text NOT NULL, topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL,
      PRIMARY KEY (projection, topic, partition))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE projection_checkpoint');
  }
}

/** The migration creating `projection_checkpoint`; include it in every service's migrations list. */
export const CheckpointMigration = CheckpointMigration1700000000000;

export interface RecordPosition {
  readonly projection: string;
  readonly topic: string;
  readonly partition: number;
  /** the record's offset, as kafkajs gives it (a decimal string) */
  readonly offset: string;
}

export type ApplyOutcome = 'applied' | 'duplicate';

const OFFSET = /^(0|[1-9][0-9]{0,18})$/;

/**
 * Runs `fn` and advances the checkpoint past `at.offset` in one transaction, holding a row
 * lock on the checkpoint so that two instances cannot both apply the same record. An offset
 * below the checkpoint is a duplicate delivery: nothing runs. If `fn` throws, the
 * transaction rolls back (no rows, no checkpoint) and the error propagates.
 */
export async function applyOnce(ds: DataSource, at: RecordPosition, fn: (m: EntityManager) => Promise<void>): Promise<ApplyOutcome> {
  if (!OFFSET.test(at.offset)) throw new PersistenceError('VALIDATION', `offset must be a non-negative integer string (got ${JSON.stringify(at.offset)})`);
  const applied = await applyBatchOnce(ds, at, [at.offset], (m) => fn(m));
  return applied === 0 ? 'duplicate' : 'applied';
}

/**
 * applyOnce for a batch of consecutive records of one partition (`offsets` ascending): in one
 * transaction, `fn` receives the index of the first record not yet applied and applies that
 * record and every later one; the checkpoint moves past the last. Returns how many records were
 * new (0: the whole batch was a duplicate delivery, nothing ran).
 */
export async function applyBatchOnce(
  ds: DataSource,
  at: Omit<RecordPosition, 'offset'>,
  offsets: readonly string[],
  fn: (m: EntityManager, firstNew: number) => Promise<void>,
): Promise<number> {
  if (!Number.isInteger(at.partition) || at.partition < 0) throw new PersistenceError('VALIDATION', `partition must be a non-negative integer (got ${at.partition})`);
  if (at.projection.length === 0 || at.topic.length === 0) throw new PersistenceError('VALIDATION', 'projection and topic must be non-empty');
  for (const o of offsets) if (!OFFSET.test(o)) throw new PersistenceError('VALIDATION', `offset must be a non-negative integer string (got ${JSON.stringify(o)})`);
  if (offsets.length === 0) return 0;
  return ds.transaction(async (m) => {
    // Make sure the row exists, then lock it: a concurrent applier of the same partition waits here.
    await m.query(
      `INSERT INTO projection_checkpoint (projection, topic, partition, next_offset) VALUES ($1, $2, $3, 0)
       ON CONFLICT (projection, topic, partition) DO NOTHING`,
      [at.projection, at.topic, at.partition],
    );
    const rows: Array<{ next_offset: string }> = await m.query(
      'SELECT next_offset FROM projection_checkpoint WHERE projection = $1 AND topic = $2 AND partition = $3 FOR UPDATE',
      [at.projection, at.topic, at.partition],
    );
    const row = rows[0];
    if (row === undefined) throw new PersistenceError('CONCURRENCY', `checkpoint row of ${at.projection} ${at.topic}/${at.partition} vanished`, true);
    const next = BigInt(row.next_offset);
    const firstNew = offsets.findIndex((o) => BigInt(o) >= next);
    if (firstNew < 0) return 0;
    await fn(m, firstNew);
    await m.query('UPDATE projection_checkpoint SET next_offset = $4 WHERE projection = $1 AND topic = $2 AND partition = $3', [
      at.projection,
      at.topic,
      at.partition,
      (BigInt(offsets[offsets.length - 1]) + 1n).toString(),
    ]);
    return offsets.length - firstNew;
  });
}

export interface Checkpoint {
  readonly topic: string;
  readonly partition: number;
  /** the next offset to apply (decimal string) */
  readonly nextOffset: string;
}

/** The checkpoints of one projection, ordered by topic and partition. */
export async function readCheckpoints(ds: DataSource | EntityManager, projection: string): Promise<Checkpoint[]> {
  const rows: Array<{ topic: string; partition: number; next_offset: string }> = await ds.query(
    'SELECT topic, partition, next_offset FROM projection_checkpoint WHERE projection = $1 ORDER BY topic, partition',
    [projection],
  );
  return rows.map((r) => ({ topic: r.topic, partition: Number(r.partition), nextOffset: String(r.next_offset) }));
}
