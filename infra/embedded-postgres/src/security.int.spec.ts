/**
 * The embedded cluster keeps strangers and services in their place: generated passwords in
 * a private file, reused across restarts; SCRAM for every connection; the old default
 * password refused; services as a role that is no superuser and cannot run programs; a
 * cluster of the old scheme (superuser postgres/postgres, tables in `postgres`) migrated.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { binariesFor, findBinaries } from './binaries';
import { initdb, launch, pickFreePort, startEmbeddedPostgres, type PostgresLogger, type RunningPostgres } from './embedded-postgres';
import { resolveRunAs } from './os-user';

jest.setTimeout(120_000);

const roots: string[] = [];
function scratch(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pgsec-test-'));
  fs.chmodSync(root, 0o755); // PostgreSQL runs as another OS user when we are root
  roots.push(root);
  return root;
}

/** Every message the launcher logs, to prove no password is among them. */
const messages: string[] = [];
const logger: PostgresLogger = { info: (m) => void messages.push(m), warn: (m) => void messages.push(m), debug: (m) => void messages.push(m) };

async function query<T = any>(url: string | { host: string; port: number; user: string; password: string; database: string }, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client(typeof url === 'string' ? { connectionString: url } : url);
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** The error a connection attempt fails with (undefined if it succeeds). */
async function loginError(opts: { port: number; user: string; password: string; database: string }): Promise<(Error & { code?: string }) | undefined> {
  const c = new Client({ host: '127.0.0.1', ...opts });
  try {
    await c.connect();
    await c.end();
    return undefined;
  } catch (err) {
    await c.end().catch(() => undefined);
    return err as Error & { code?: string };
  }
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const mode = (p: string) => fs.statSync(p).mode & 0o777;

afterAll(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

describe('embedded PostgreSQL security', () => {
  let root: string;
  let pg: RunningPostgres | undefined;
  const credentialsFile = () => path.join(root, 'credentials', 'postgres.json');

  beforeAll(async () => {
    root = scratch();
    pg = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres'), credentialsFile: credentialsFile(), fsync: false, logger });
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('keeps generated passwords in a 0600 file in a 0700 directory, reused across restarts, and logs none of them', async () => {
    const file = credentialsFile();
    expect(pg!.credentialsFile).toBe(file);
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
    const before = readJson(file);
    expect(before.superuser.password).not.toBe('postgres');
    expect(before.cluster).toMatch(/^\d+$/);
    expect(pg!.url).toBe(`postgres://deltaflow:${before.service.password}@127.0.0.1:${pg!.port}/deltaflow`);
    expect(pg!.adminUrl).toBe(`postgres://postgres:${before.superuser.password}@127.0.0.1:${pg!.port}/postgres`);

    await pg!.stop();
    pg = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres'), credentialsFile: file, fsync: false, logger });
    expect(readJson(file)).toEqual(before);
    expect(mode(file)).toBe(0o600);
    expect(await query(pg.url, 'SELECT current_user AS u')).toEqual([{ u: 'deltaflow' }]);
    expect(await query(pg.adminUrl, 'SELECT current_user AS u')).toEqual([{ u: 'postgres' }]);
    expect(messages.length).toBeGreaterThan(0);
    for (const m of messages) {
      expect(m).not.toContain(before.superuser.password);
      expect(m).not.toContain(before.service.password);
    }
  });

  it('refuses the old default password, wrong passwords, and has no trust rule', async () => {
    const port = pg!.port;
    const old = await loginError({ port, user: 'postgres', password: 'postgres', database: 'postgres' });
    expect(old?.code).toBe('28P01'); // invalid_password
    expect((await loginError({ port, user: 'deltaflow', password: 'postgres', database: 'deltaflow' }))?.code).toBe('28P01');
    const { service } = readJson(credentialsFile());
    expect(await loginError({ port, user: 'deltaflow', password: service.password, database: 'deltaflow' })).toBeUndefined();
    const rules = await query(pg!.adminUrl, 'SELECT type, auth_method, address FROM pg_hba_file_rules ORDER BY rule_number');
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.filter((r) => r.auth_method !== 'scram-sha-256')).toEqual([]);
    expect(rules.filter((r) => r.type === 'host').map((r) => r.address)).toEqual(['127.0.0.1', '::1']);
    const [settings] = await query(pg!.adminUrl, "SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets, current_setting('password_encryption') AS enc");
    expect(settings).toEqual({ listen: '127.0.0.1', sockets: '', enc: 'scram-sha-256' });
  });

  it('gives services a role that is no superuser, cannot create roles or databases, and cannot run programs', async () => {
    const [role] = await query(pg!.adminUrl, "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, pg_has_role('deltaflow', 'pg_execute_server_program', 'MEMBER') AS program FROM pg_roles WHERE rolname = 'deltaflow'");
    expect(role).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolbypassrls: false, program: false });
    await expect(query(pg!.url, "COPY (SELECT 1) TO PROGRAM 'true'")).rejects.toThrow(/permission denied|must be superuser/);
    await expect(query(pg!.url, "COPY (SELECT 1) TO '/tmp/deltaflow-should-not-exist'")).rejects.toThrow(/permission denied|must be superuser/);
    await expect(query(pg!.url, 'CREATE ROLE intruder')).rejects.toThrow(/permission denied/);
    await expect(query(pg!.url, 'CREATE DATABASE other')).rejects.toThrow(/permission denied/);
    await expect(query(pg!.url, 'ALTER ROLE deltaflow SUPERUSER')).rejects.toThrow(/permission denied|must be superuser/);
    // the same statement works for the superuser: the refusals above are about the role
    await query(pg!.adminUrl, "COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'");
  });

  it('lets the service role create schemas and tables in its database, and drop them', async () => {
    await query(pg!.url, 'CREATE SCHEMA scratch_1');
    await query(pg!.url, 'CREATE TABLE scratch_1.t (id serial PRIMARY KEY, x text)');
    await query(pg!.url, "INSERT INTO scratch_1.t (x) VALUES ('a')");
    await query(pg!.url, 'CREATE TABLE in_public (id int)');
    expect(await query(pg!.url, 'SELECT x FROM scratch_1.t')).toEqual([{ x: 'a' }]);
    await query(pg!.url, 'DROP SCHEMA scratch_1 CASCADE');
    await query(pg!.url, 'DROP TABLE in_public');
    expect(await query(pg!.adminUrl, "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'deltaflow'")).toEqual([{ owner: 'deltaflow' }]);
  });

  it('takes back, at the next start, rights granted by hand that would let the role run programs', async () => {
    await query(pg!.adminUrl, 'GRANT pg_execute_server_program, pg_write_server_files TO deltaflow');
    await query(pg!.adminUrl, 'ALTER ROLE deltaflow CREATEROLE');
    await query(pg!.url, "COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'"); // the grant works...
    await pg!.stop();
    pg = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres'), credentialsFile: credentialsFile(), fsync: false, logger });
    await expect(query(pg.url, "COPY (SELECT 1) TO PROGRAM 'true'")).rejects.toThrow(/permission denied|must be superuser/); // ...until the restart
    expect(await query(pg.adminUrl, "SELECT rolcreaterole FROM pg_roles WHERE rolname = 'deltaflow'")).toEqual([{ rolcreaterole: false }]);
  });

  it('sets new passwords on the cluster when the credentials file was removed', async () => {
    const old = readJson(credentialsFile());
    await pg!.stop();
    fs.rmSync(credentialsFile());
    pg = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres'), credentialsFile: credentialsFile(), fsync: false, logger });
    const fresh = readJson(credentialsFile());
    expect(fresh.superuser.password).not.toBe(old.superuser.password);
    expect(fresh.service.password).not.toBe(old.service.password);
    expect(fresh.cluster).toBe(old.cluster);
    expect((await loginError({ port: pg.port, user: 'postgres', password: old.superuser.password, database: 'postgres' }))?.code).toBe('28P01');
    expect((await loginError({ port: pg.port, user: 'deltaflow', password: old.service.password, database: 'deltaflow' }))?.code).toBe('28P01');
    expect(await query(pg.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('listens wider only when told, and even then admits the superuser only over loopback', async () => {
    const other = scratch();
    const wide = await startEmbeddedPostgres({ dataDir: path.join(other, 'pg'), fsync: false, listenAddresses: ['*'] });
    try {
      expect(wide.url).toContain('@127.0.0.1:');
      expect(wide.credentialsFile).toBe(path.join(other, 'credentials', 'pg.json'));
      const rules = await query(wide.adminUrl, 'SELECT user_name, address, auth_method FROM pg_hba_file_rules WHERE type = $1 ORDER BY rule_number', ['host']);
      expect(rules).toEqual([
        { user_name: ['all'], address: '127.0.0.1', auth_method: 'scram-sha-256' },
        { user_name: ['all'], address: '::1', auth_method: 'scram-sha-256' },
        { user_name: ['postgres'], address: 'all', auth_method: 'reject' },
        { user_name: ['all'], address: 'all', auth_method: 'scram-sha-256' },
      ]);
    } finally {
      await wide.stop();
    }
  });
});

describe('a data directory of the old scheme (superuser postgres/postgres, services in database postgres)', () => {
  it('is migrated at its first start: old password refused, tables kept in database deltaflow, owned by the service role', async () => {
    const root = scratch();
    const dataDir = path.join(root, 'postgres');
    // Made exactly as the old startEmbeddedPostgres did: initdb -U postgres with password postgres.
    const runAs = resolveRunAs('deltaflow');
    const bins = binariesFor(findBinaries(), runAs);
    fs.mkdirSync(dataDir, { mode: 0o700 });
    if (runAs) fs.chownSync(dataDir, runAs.uid, runAs.gid);
    const quiet = { info: () => undefined, warn: () => undefined };
    initdb(bins.initdb, dataDir, 'postgres', 'postgres', runAs, quiet);
    const port = await pickFreePort();
    const old: ChildProcess = await launch(bins.postgres, dataDir, port, ['127.0.0.1'], { fsync: false }, runAs, quiet);
    const oldUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
    try {
      // what the services of the old scheme left there: migrations, a serial, a schema of its own
      await query(oldUrl, 'CREATE TABLE migrations (id serial PRIMARY KEY, name text NOT NULL)');
      await query(oldUrl, "INSERT INTO migrations (name) VALUES ('DsimBuilder1700000000001')");
      await query(oldUrl, 'CREATE TABLE plog_position (dbid int PRIMARY KEY, sync_lsn bigint NOT NULL)');
      await query(oldUrl, 'INSERT INTO plog_position VALUES (1, 4242)');
      await query(oldUrl, 'CREATE SCHEMA catalog');
      await query(oldUrl, 'CREATE TABLE catalog.catalog_save (dbid int, correlation_id text, PRIMARY KEY (dbid, correlation_id))');
      await query(oldUrl, "INSERT INTO catalog.catalog_save VALUES (1, 'c1')");
    } finally {
      old.kill('SIGINT');
      await new Promise((r) => (old.exitCode !== null || old.signalCode !== null ? r(null) : old.once('exit', r)));
    }

    const seen: string[] = [];
    const credentialsFile = path.join(root, 'credentials', 'postgres.json');
    const start = () => startEmbeddedPostgres({ dataDir, credentialsFile, fsync: false, logger: { info: (m) => void seen.push(m), warn: (m) => void seen.push(m) } });
    let pg = await start();
    try {
      expect(mode(credentialsFile)).toBe(0o600);
      expect(seen.join('\n')).toMatch(/setting its superuser's password/);
      expect(seen.join('\n')).toMatch(/renamed to deltaflow/);
      expect((await loginError({ port: pg.port, user: 'postgres', password: 'postgres', database: 'postgres' }))?.code).toBe('28P01');
      // the services' data, now in database deltaflow, readable and writable by the service role
      expect(await query(pg.url, 'SELECT name FROM migrations')).toEqual([{ name: 'DsimBuilder1700000000001' }]);
      expect(await query(pg.url, 'SELECT dbid, sync_lsn FROM plog_position')).toEqual([{ dbid: 1, sync_lsn: '4242' }]);
      await query(pg.url, "INSERT INTO migrations (name) VALUES ('Next1700000000002')"); // the serial's sequence changed owner too
      await query(pg.url, "INSERT INTO catalog.catalog_save VALUES (1, 'c2')");
      await query(pg.url, 'ALTER TABLE plog_position ADD COLUMN extra int'); // what a later migration does
      await query(pg.url, 'DROP SCHEMA catalog CASCADE'); // what a replay does with its scratch schema
      const owners = await query(pg.adminUrl.replace(/\/postgres$/, '/deltaflow'), "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'");
      expect(owners).toEqual([{ owner: 'deltaflow' }]);
      // a fresh maintenance database in place of the old one
      expect(await query(pg.adminUrl, "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")).toEqual([{ n: 0 }]);
      const [role] = await query(pg.adminUrl, "SELECT rolsuper FROM pg_roles WHERE rolname = 'deltaflow'");
      expect(role).toEqual({ rolsuper: false });
    } finally {
      await pg.stop();
    }
    // the next start has nothing left to migrate
    seen.length = 0;
    pg = await start();
    try {
      expect(seen.filter((m) => /password|renamed|handed/.test(m))).toEqual([]);
      expect(await query(pg.url, 'SELECT count(*)::int AS n FROM migrations')).toEqual([{ n: 2 }]);
    } finally {
      await pg.stop();
    }
  });
});
