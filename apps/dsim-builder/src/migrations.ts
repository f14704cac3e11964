import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The DSIM builder's tables (schema only by migrations):
 * - plog_image: PLOG block images kept while an online save may need them; a DSIM is the
 *   last image per block in (start, end] of its save, selected from here;
 * - plog_position: the highest PLOG sync point read per database (a DSIM completes only once
 *   the PLOG was read through its end sync);
 * - dsim: the original DSIM of each database (the save-chain DSIM decider's state);
 * - dsim_checkpoint: next offset per (topic, partition), written in the same transaction as
 *   the rows, so a redelivered record changes nothing.
 */
export class DsimBuilder1700000000001 implements MigrationInterface {
  name = 'DsimBuilder1700000000001';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE plog_image (
      dbid int NOT NULL, area text NOT NULL, rabn int NOT NULL, lsn bigint NOT NULL, image bytea NOT NULL,
      PRIMARY KEY (dbid, area, rabn, lsn))`);
    await q.query(`CREATE TABLE plog_position (dbid int PRIMARY KEY, sync_lsn bigint NOT NULL)`);
    await q.query(`CREATE TABLE dsim (
      dbid int PRIMARY KEY, status text NOT NULL, correlation_id text, dsid jsonb, start_lsn bigint, end_lsn bigint,
      completing_at bigint)`);
    await q.query(`CREATE TABLE dsim_checkpoint (topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL, PRIMARY KEY (topic, partition))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dsim_checkpoint; DROP TABLE dsim; DROP TABLE plog_position; DROP TABLE plog_image`);
  }
}
