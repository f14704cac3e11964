import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The DSIM builder's tables (schema only by migrations):
 * - plog_image: the PLOG copy (PLCOPY): block images kept while a DSIM may need them; a DSIM is
 *   the last image per block in its window (start, end];
 * - plog_position: the highest PLOG sync point read per database;
 * - dsim: the original DSIM of each database: the DSIM decider's state, as it decided it.
 * Offsets live in projection_checkpoint (@deltaflow/persistence), in the same transactions.
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

/**
 * The decider owns the DSIM state: `end_lsn` is the save's end sync as soon as the save completed
 * (status says whether the DSIM is complete yet; `completing_at` folds into it), `blocks` is the
 * count it completed with, `freed_through` where the PLOG of the last freed DSIM ended; offsets move to the shared projection_checkpoint table.
 */
export class DsimBuilder1700000000002 implements MigrationInterface {
  name = 'DsimBuilder1700000000002';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE dsim SET end_lsn = completing_at WHERE status = 'collecting' AND completing_at IS NOT NULL`);
    await q.query(`ALTER TABLE dsim DROP COLUMN completing_at, ADD COLUMN blocks int, ADD COLUMN freed_through bigint`);
    await q.query(`INSERT INTO projection_checkpoint (projection, topic, partition, next_offset)
      SELECT 'dsim-builder', topic, partition, next_offset FROM dsim_checkpoint ON CONFLICT DO NOTHING`);
    await q.query(`DROP TABLE dsim_checkpoint`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE dsim_checkpoint (topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL, PRIMARY KEY (topic, partition))`);
    await q.query(`INSERT INTO dsim_checkpoint SELECT topic, partition, next_offset FROM projection_checkpoint WHERE projection = 'dsim-builder'`);
    await q.query(`ALTER TABLE dsim DROP COLUMN blocks, DROP COLUMN freed_through, ADD COLUMN completing_at bigint`);
  }
}

/**
 * What the PLOG retention needs (@deltaflow/save-chain plogRetention): the offset of every
 * PlogSync record stored (per dsf.plog partition; rows below a cut go with it), and the start
 * LSN of every completed save.
 */
export class DsimBuilder1700000000003 implements MigrationInterface {
  name = 'DsimBuilder1700000000003';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE plog_sync (partition int NOT NULL, kafka_offset bigint NOT NULL, dbid int NOT NULL, lsn bigint NOT NULL, PRIMARY KEY (partition, kafka_offset))`);
    await q.query(`CREATE TABLE completed_save (dbid int NOT NULL, correlation_id text NOT NULL, start_lsn bigint NOT NULL, PRIMARY KEY (dbid, correlation_id))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE completed_save; DROP TABLE plog_sync`);
  }
}
