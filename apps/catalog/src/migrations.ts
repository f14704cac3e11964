import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The catalog's read models (schema only by migrations). Times are ms since the epoch as
 * the producers passed them in; every row is a fold over dsf.events.
 */
export class CatalogReadModels1700000000200 implements MigrationInterface {
  name = 'CatalogReadModels1700000000200';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE catalog_save (
      dbid int NOT NULL, correlation_id text NOT NULL, origin text NOT NULL,
      dsid text, lineage text, kind text, online boolean,
      status text NOT NULL, path text, started_at bigint NOT NULL, completed_at bigint,
      start_lsn bigint, end_lsn bigint, blocks bigint, bytes bigint, digest text, reason text,
      PRIMARY KEY (dbid, correlation_id))`);
    await q.query(`CREATE TABLE catalog_dsim (
      dbid int NOT NULL, dsid text NOT NULL, status text NOT NULL, start_lsn bigint NOT NULL, end_lsn bigint,
      blocks bigint, path text, acquired_at bigint NOT NULL, updated_at bigint NOT NULL,
      PRIMARY KEY (dbid, dsid))`);
    await q.query(`CREATE TABLE catalog_lineage (
      dbid int NOT NULL, lineage text NOT NULL, first_dsid text NOT NULL, first_at bigint NOT NULL,
      latest_dsid text NOT NULL, latest_full bigint NOT NULL, latest_delta bigint NOT NULL, latest_at bigint NOT NULL,
      PRIMARY KEY (dbid, lineage))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE catalog_lineage; DROP TABLE catalog_dsim; DROP TABLE catalog_save');
  }
}

/**
 * Restores (restore delta, shadow init and apply, REGENERATE) and the DLOG of each database as
 * the change logger recorded it (its decider state folded from dsf.dlog, with counts for reports).
 */
export class CatalogRestoresAndDlog1700000000201 implements MigrationInterface {
  name = 'CatalogRestoresAndDlog1700000000201';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE catalog_restore (
      dbid int NOT NULL, correlation_id text NOT NULL, target text NOT NULL, kind text NOT NULL,
      status text NOT NULL, inputs jsonb, dsid text, lineage text, into_database boolean NOT NULL DEFAULT false,
      blocks bigint, digest text, from_lsn bigint, to_lsn bigint, reason text, started_at bigint NOT NULL, completed_at bigint,
      PRIMARY KEY (dbid, correlation_id))`);
    await q.query(`CREATE TABLE catalog_dlog (
      dbid int PRIMARY KEY, state jsonb NOT NULL, asso_blocks bigint NOT NULL, data_blocks bigint NOT NULL,
      marks jsonb NOT NULL, pending jsonb, last_lsn bigint, updated_at bigint NOT NULL)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE catalog_dlog; DROP TABLE catalog_restore');
  }
}
