/**
 * infra/docker/postgres/10-deltaflow-role.sh, run as the postgres image runs it at
 * initialisation (psql as the superuser, POSTGRES_* in the environment), against the test
 * PostgreSQL: the role it makes can do what the services do and nothing a superuser does.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { testServerUrl } from '@deltaflow/testing';
import { ROOT } from './support/context';

const psql = spawnSync('psql', ['--version'], { encoding: 'utf8' });
const hasPsql = psql.status === 0 && Number(/(\d+)\./.exec(psql.stdout)?.[1]) >= 15; // \getenv: psql 15
if (!hasPsql) process.stderr.write('psql 15+ not found (Debian: postgresql-client): the role script test is skipped\n');

(hasPsql ? describe : describe.skip)('infra/docker/postgres/10-deltaflow-role.sh', () => {
  const suffix = randomBytes(6).toString('hex');
  const role = `df_role_${suffix}`;
  const db = `df_db_${suffix}`;
  // a password that would break naive quoting, or SQL built by string concatenation
  const password = `p'w"; DROP ROLE postgres; --${suffix}`;
  const admin = new URL(testServerUrl());

  const run = (env: Record<string, string>) =>
    spawnSync('bash', [path.join(ROOT, 'infra/docker/postgres/10-deltaflow-role.sh')], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        PGHOST: admin.hostname,
        PGPORT: admin.port,
        PGPASSWORD: decodeURIComponent(admin.password),
        POSTGRES_USER: decodeURIComponent(admin.username),
        POSTGRES_DB: 'postgres',
        ...env,
      },
    });
  const asRole = async <T>(database: string, fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ host: admin.hostname, port: Number(admin.port), user: role, password, database });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const asAdmin = async (sql: string) => {
    const c = new Client({ connectionString: admin.toString() });
    await c.connect();
    try {
      return await c.query(sql);
    } finally {
      await c.end();
    }
  };

  afterAll(async () => {
    await asAdmin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await asAdmin(`DROP ROLE IF EXISTS ${role}`);
  });

  it('refuses to run without DELTAFLOW_DB_PASSWORD', () => {
    const r = run({ DELTAFLOW_DB_USER: role, DELTAFLOW_DB_NAME: db });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/DELTAFLOW_DB_PASSWORD is not set/);
  });

  it('creates an ordinary role owning its database, with the password as given', async () => {
    const r = run({ DELTAFLOW_DB_PASSWORD: password, DELTAFLOW_DB_USER: role, DELTAFLOW_DB_NAME: db });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { rows } = await asAdmin(`SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin FROM pg_roles WHERE rolname = '${role}'`);
    expect(rows).toEqual([{ rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolcanlogin: true }]);
    expect((await asAdmin(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = '${db}'`)).rows).toEqual([{ owner: role }]);
  });

  it('lets the role migrate its database: tables, schemas (catalog replay), advisory locks', async () => {
    await asRole(db, async (c) => {
      await c.query('CREATE TABLE t (id int PRIMARY KEY)');
      await c.query('CREATE SCHEMA IF NOT EXISTS replay_scratch');
      await c.query('CREATE TABLE replay_scratch.t (id int)');
      await c.query("SELECT pg_advisory_lock(hashtext('deltaflow-migrations:public'))");
      await c.query('INSERT INTO t VALUES (1)');
      expect((await c.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 1 }]);
    });
  });

  it('gives the role nothing beyond its database', async () => {
    await asRole(db, async (c) => {
      await expect(c.query('CREATE DATABASE other')).rejects.toThrow(/permission denied/);
      await expect(c.query('CREATE ROLE other')).rejects.toThrow(/permission denied/);
      await expect(c.query("COPY (SELECT 1) TO PROGRAM 'true'")).rejects.toThrow(/permission denied|must be superuser|pg_execute_server_program/);
    });
  });
});
