import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The sample schedules (`dsf schedule`) and every step they ran. */
export class CatalogSchedules1700000000401 implements MigrationInterface {
  name = 'CatalogSchedules1700000000401';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE catalog_schedule (
      dbid int NOT NULL, schedule_id text NOT NULL, delta_every_ms bigint NOT NULL, cycle_ms bigint NOT NULL, start_at bigint NOT NULL,
      status text NOT NULL, reason text, cycle int NOT NULL DEFAULT 1, day int NOT NULL DEFAULT 0,
      defined_at bigint NOT NULL, updated_at bigint NOT NULL,
      PRIMARY KEY (dbid, schedule_id))`);
    await q.query(`CREATE TABLE catalog_schedule_step (
      dbid int NOT NULL, correlation_id text NOT NULL, schedule_id text NOT NULL, cycle int NOT NULL, day int NOT NULL,
      step text NOT NULL, attempt int NOT NULL, command_type text NOT NULL, inputs jsonb, output text NOT NULL,
      status text NOT NULL, dsid text, code text, reason text, retry_at bigint,
      due_at bigint NOT NULL, started_at bigint NOT NULL, completed_at bigint,
      PRIMARY KEY (dbid, correlation_id))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE catalog_schedule_step; DROP TABLE catalog_schedule');
  }
}
