import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Data set retention (issue 13): the policy of each database (RetentionSet, `dsf retention set`)
 * and, on each save, when its data sets expired and why (DataSetExpired).
 */
export class CatalogRetention1700000000403 implements MigrationInterface {
  name = 'CatalogRetention1700000000403';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE catalog_save ADD COLUMN expired_at bigint, ADD COLUMN expiry_reason text, ADD COLUMN expired_names jsonb`);
    await q.query(`CREATE TABLE catalog_retention (
      dbid int PRIMARY KEY, keep_saves int, keep_days int, correlation_id text NOT NULL, set_at bigint NOT NULL)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE catalog_retention');
    await q.query('ALTER TABLE catalog_save DROP COLUMN expired_at, DROP COLUMN expiry_reason, DROP COLUMN expired_names');
  }
}
