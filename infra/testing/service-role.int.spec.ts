/**
 * The databases tests get are the service role's, and that role is enough to run the
 * services' migrations: the catalog's (in public and in a replay's scratch schema, the streaming
 * read models' included) and the DSIM builder's, through their own data-source factories, with
 * no superuser rights.
 */
import { Client } from 'pg';
import { openCatalogDatabase } from '../../apps/catalog/src/read-models';
import { openDsimDataSource } from '../../apps/dsim-builder/src/dsim-store';
import { testDatabase, testServiceUrl, type TestDatabase } from '@deltaflow/testing';

async function rows<T = any>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('test databases as the service role', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await testDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('connect as a role that is no superuser and cannot run programs', async () => {
    expect(testServiceUrl()).toBeDefined();
    const [me] = await rows(db.url, "SELECT current_user AS name, r.rolsuper, r.rolcreaterole, r.rolcreatedb, pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') AS program FROM pg_roles r WHERE r.rolname = current_user");
    expect(me).toEqual({ name: new URL(testServiceUrl()!).username, rolsuper: false, rolcreaterole: false, rolcreatedb: false, program: false });
    await expect(rows(db.url, "COPY (SELECT 1) TO PROGRAM 'true'")).rejects.toThrow(/permission denied/);
    await expect(rows(db.url, 'CREATE ROLE intruder')).rejects.toThrow(/permission denied/);
  });

  it("run the catalog's migrations, in public and in a scratch schema the role creates and drops", async () => {
    const live = await openCatalogDatabase(db.url);
    const replay = await openCatalogDatabase(db.url, 'catalog_replay_test');
    await replay.query("INSERT INTO catalog_save (dbid, correlation_id, origin, status, started_at) VALUES (1, 'c', 'cli', 'started', 0)");
    await replay.destroy();
    await live.destroy();
    const tables = await rows(db.url, "SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_name LIKE 'catalog_%' ORDER BY 1, 2");
    expect(tables).toEqual(
      ['catalog_replay_test', 'public'].flatMap((s) =>
        [
          'catalog_dlog',
          'catalog_dsim',
          'catalog_event_hash',
          'catalog_lineage',
          'catalog_restore',
          'catalog_retention',
          'catalog_save',
          'catalog_schedule',
          'catalog_schedule_step',
          'catalog_sov_client_file',
          'catalog_sov_device',
          'catalog_sov_run',
          'catalog_sov_stream',
          'catalog_sov_verification',
          'catalog_sov_volume',
        ].map((t) => ({ s, t })),
      ),
    );
    const ran = await rows<{ name: string }>(db.url, 'SELECT name FROM public.migrations ORDER BY id');
    expect(ran.map((r) => r.name)).toEqual(['CheckpointMigration1700000000000', 'CatalogReadModels1700000000200', 'CatalogRestoresAndDlog1700000000201', 'CatalogSovReadModels1700000000300', 'CatalogEventHash1700000000400', 'CatalogSchedules1700000000401', 'CatalogSovVerifications1700000000402', 'CatalogRetention1700000000403']);
    const owners = await rows(db.url, "SELECT DISTINCT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname IN ('public', 'catalog_replay_test')");
    expect(owners.map((o) => o.owner).sort()).toEqual(['pg_database_owner', new URL(testServiceUrl()!).username].sort());
    await rows(db.url, 'DROP SCHEMA catalog_replay_test CASCADE');
  });

  it("run the DSIM builder's migrations", async () => {
    const ds = await openDsimDataSource(db.url);
    try {
      const ran: Array<{ name: string }> = await ds.query('SELECT name FROM migrations');
      expect(ran.map((r) => r.name)).toEqual(['CheckpointMigration1700000000000', 'DsimBuilder1700000000001', 'DsimBuilder1700000000002', 'DsimBuilder1700000000003']);
      await ds.query("INSERT INTO plog_image VALUES (1, 'DATA', 7, 100, '\\x00'::bytea)");
    } finally {
      await ds.destroy();
    }
  });
});
