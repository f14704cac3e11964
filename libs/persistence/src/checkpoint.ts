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
  if (!Number.isInteger(at.partition) || at.partition < 0) throw new PersistenceError('VALIDATION', `partition must be a non-negative integer (got ${at.partition})`);
  if (at.projection.length === 0 || at.topic.length === 0) throw new PersistenceError('VALIDATION', 'projection and topic must be non-empty');
  const offset = BigInt(at.offset);
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
    if (offset < BigInt(row.next_offset)) return 'duplicate';
    await fn(m);
    await m.query('UPDATE projection_checkpoint SET next_offset = $4 WHERE projection = $1 AND topic = $2 AND partition = $3', [
      at.projection,
      at.topic,
      at.partition,
      (offset + 1n).toString(),
    ]);
    return 'applied';
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
