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

/**
 * The streaming backup read models (the ExHPDM database), folded from sov.events: streams and
 * their devices, volumes, client files and their runs. Times are ms since the epoch.
 */
export class CatalogSovReadModels1700000000300 implements MigrationInterface {
  name = 'CatalogSovReadModels1700000000300';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE catalog_sov_stream (
      stream text PRIMARY KEY, min_devices int NOT NULL, max_devices int NOT NULL, objective_bytes_per_sec bigint,
      volume_capacity bigint NOT NULL, device_rate_bytes_per_sec bigint, run_superblocks int NOT NULL, checkpoint_every_bytes bigint NOT NULL,
      compression text NOT NULL, encryption text NOT NULL, defined_at bigint NOT NULL, updated_at bigint NOT NULL)`);
    await q.query(`CREATE TABLE catalog_sov_device (
      stream text NOT NULL, device text NOT NULL, rate_bytes_per_sec bigint, status text NOT NULL, volser text, reason text,
      added_at bigint NOT NULL, updated_at bigint NOT NULL, PRIMARY KEY (stream, device))`);
    await q.query(`CREATE TABLE catalog_sov_volume (
      volser text PRIMARY KEY, stream text NOT NULL, stream_file text NOT NULL, volume_seq bigint NOT NULL, previous_volser text, next_volser text,
      device text NOT NULL, status text NOT NULL, capacity bigint, bytes bigint NOT NULL, mounted_at bigint NOT NULL, full_at bigint,
      suspect_position bigint, suspect_reason text, scratched_at bigint)`);
    await q.query(`CREATE TABLE catalog_sov_client_file (
      incarnation text PRIMARY KEY, stream text NOT NULL, client_file text NOT NULL, dbid int, dsid jsonb, lineage text, dsid_full bigint,
      delta_from bigint, delta_to bigint, kind text, expires_at bigint, description text, compression text NOT NULL, compression_level int,
      encryption text NOT NULL, key_id text, wrapped_key text, opened_at bigint NOT NULL, state text NOT NULL, superblocks bigint NOT NULL DEFAULT 0,
      bytes bigint NOT NULL DEFAULT 0, sha256 text, closed_at bigint, aborted_at bigint, reason text, expired_at bigint)`);
    await q.query('CREATE INDEX catalog_sov_client_file_name ON catalog_sov_client_file (stream, client_file)');
    await q.query('CREATE INDEX catalog_sov_client_file_dbid ON catalog_sov_client_file (dbid, lineage, dsid_full)');
    await q.query(`CREATE TABLE catalog_sov_run (
      volser text NOT NULL, position bigint NOT NULL, incarnation text NOT NULL, first_seq bigint NOT NULL, superblocks int NOT NULL, last boolean NOT NULL,
      length bigint NOT NULL, bytes bigint NOT NULL, crcs bigint[] NOT NULL, placed_at bigint NOT NULL, PRIMARY KEY (volser, position))`);
    await q.query('CREATE INDEX catalog_sov_run_incarnation ON catalog_sov_run (incarnation, first_seq)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE catalog_sov_run; DROP TABLE catalog_sov_client_file; DROP TABLE catalog_sov_volume; DROP TABLE catalog_sov_device; DROP TABLE catalog_sov_stream');
  }
}

/**
 * Tamper evidence: the hash chain of each topic partition as the catalog first applied it
 * (audit/hash-chain.ts). Not a read model: not in the state digest.
 */
export class CatalogEventHash1700000000400 implements MigrationInterface {
  name = 'CatalogEventHash1700000000400';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE catalog_event_hash (
      topic text NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL, hash text NOT NULL, chained_at bigint NOT NULL,
      PRIMARY KEY (topic, partition, "offset"))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE catalog_event_hash');
  }
}

/** Verifications of volumes and client files (VolumeVerified, ClientFileVerified on sov.events). */
export class CatalogSovVerifications1700000000402 implements MigrationInterface {
  name = 'CatalogSovVerifications1700000000402';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE catalog_sov_verification (
      subject text NOT NULL, key text NOT NULL, stream text NOT NULL, volser text, client_file text, incarnation text, ok boolean NOT NULL,
      problem_count int NOT NULL, problems jsonb NOT NULL, details jsonb NOT NULL, trigger text NOT NULL, correlation_id text, verified_at bigint NOT NULL,
      PRIMARY KEY (subject, key, verified_at))`);
    await q.query('CREATE INDEX catalog_sov_verification_volser ON catalog_sov_verification (volser, verified_at)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE catalog_sov_verification');
  }
}
