/**
 * Who may connect to the embedded cluster, and as what:
 * - pg_hba.conf, rewritten at every start: SCRAM-SHA-256 passwords for every connection
 *   (no `trust`), loopback only unless the server listens wider, and then never the
 *   superuser from elsewhere than loopback;
 * - the superuser's password, set in single-user mode (no server, no network) whenever the
 *   credentials file is not known to match the cluster: a cluster made with the old
 *   default password `postgres`, or a credentials file that was removed;
 * - the service role (LOGIN, no SUPERUSER/CREATEDB/CREATEROLE/REPLICATION/BYPASSRLS, not in
 *   pg_execute_server_program/pg_read_server_files/pg_write_server_files) owning the
 *   service database, provisioned over TCP as the superuser at every start (idempotent).
 *   A cluster of the old scheme kept the services' tables in the `postgres` database: that
 *   database becomes the service database (renamed, a fresh empty `postgres` made), and
 *   whatever the superuser owns in the service database is handed to the service role.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { IDENTIFIER, scramVerifier, type ClusterCredentials, type RoleCredentials } from './credentials';
import { EmbeddedPostgresError } from './errors';
import type { RunAs } from './os-user';

export interface SecurityLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** Roles whose members can run programs or read/write files as the server's OS user. */
export const SERVER_ACCESS_ROLES = ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'] as const;

export function pgEnv(): NodeJS.ProcessEnv {
  // C locale: stable message texts (we wait for the "ready" line) and no locale packages needed.
  return { ...process.env, LC_ALL: 'C', LANG: 'C', LC_MESSAGES: 'C' };
}

function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new EmbeddedPostgresError('PROVISION_FAILED', `not a plain identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** The cluster's system identifier (first 8 bytes of global/pg_control), as a decimal string. */
export function systemIdentifier(dataDir: string): string {
  const fd = fs.openSync(path.join(dataDir, 'global', 'pg_control'), 'r');
  try {
    const buf = Buffer.alloc(8);
    if (fs.readSync(fd, buf, 0, 8, 0) !== 8) throw new EmbeddedPostgresError('DATA_DIR_INVALID', `${dataDir}/global/pg_control is truncated`);
    return (os.endianness() === 'LE' ? buf.readBigUInt64LE(0) : buf.readBigUInt64BE(0)).toString();
  } finally {
    fs.closeSync(fd);
  }
}

/** Loopback addresses only (the default): no connection from another host can even be attempted. */
export function isLoopbackOnly(listen: readonly string[]): boolean {
  return listen.every((a) => a === '127.0.0.1' || a === '::1' || a === 'localhost');
}

/** The address the admin code and the URLs use to reach a server listening on `listen`. */
export function connectHost(listen: readonly string[]): string {
  if (listen.some((a) => a === '127.0.0.1' || a === 'localhost' || a === '*' || a === '0.0.0.0')) return '127.0.0.1';
  if (listen.some((a) => a === '::1' || a === '::')) return '::1';
  return listen[0]!;
}

/** Writes pg_hba.conf (mode 0600, owned by the server's OS user). */
export function writeHba(dataDir: string, listen: readonly string[], superuser: string, runAs: RunAs | undefined): void {
  const lines = [
    '# Written by Deltaflow (infra/embedded-postgres) at every start; edits are overwritten.',
    '# Every connection authenticates with a SCRAM-SHA-256 password; nothing is trusted.',
    '# TYPE  DATABASE  USER  ADDRESS  METHOD',
    'local   all       all            scram-sha-256',
    'host    all       all   127.0.0.1/32  scram-sha-256',
    'host    all       all   ::1/128       scram-sha-256',
  ];
  if (!isLoopbackOnly(listen)) {
    lines.push(
      `# listening on ${listen.join(',')}: other hosts may log in with a password, but never as the superuser`,
      `host    all       ${ident(superuser)}  all  reject`,
      'host    all       all   all  scram-sha-256',
    );
  }
  const file = path.join(dataDir, 'pg_hba.conf');
  const tmp = `${file}.deltaflow-tmp`;
  fs.writeFileSync(tmp, `${lines.join('\n')}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  if (runAs) fs.chownSync(tmp, runAs.uid, runAs.gid);
  fs.renameSync(tmp, file);
}

/**
 * Sets the superuser's password to the stored one with `postgres --single` (the server must
 * not be running): works whatever the old password was, and never opens a port. Only the
 * SCRAM verifier reaches PostgreSQL.
 */
export function setSuperuserPassword(postgresBinary: string, dataDir: string, superuser: RoleCredentials, runAs: RunAs | undefined, fsync: boolean): void {
  const sql = `ALTER ROLE ${ident(superuser.user)} WITH SUPERUSER LOGIN PASSWORD '${scramVerifier(superuser.password)}';\n`;
  const settings = ['listen_addresses=', 'unix_socket_directories=', 'logging_collector=off', 'log_min_messages=warning', ...(fsync ? [] : ['fsync=off'])];
  const r = spawnSync(postgresBinary, ['--single', '-D', dataDir, ...settings.flatMap((s) => ['-c', s]), 'template1'], {
    input: sql,
    encoding: 'utf8',
    env: pgEnv(),
    cwd: dataDir,
    timeout: 300_000,
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  const problems = (r.stderr || '')
    .split('\n')
    .filter((l) => /\b(ERROR|FATAL|PANIC):/.test(l)) // STATEMENT lines (which would show the verifier) are left out
    .join(' | ');
  if (r.status !== 0 || problems) {
    throw new EmbeddedPostgresError(
      'PROVISION_FAILED',
      `could not set the password of superuser ${superuser.user} on ${dataDir} (${r.error?.message ?? `exit ${r.status}`}): ${problems || (r.stderr || '').trim().slice(-500)}`,
    );
  }
}

async function connect(host: string, port: number, role: RoleCredentials, database: string): Promise<Client> {
  const client = new Client({ host, port, user: role.user, password: role.password, database, ssl: false, connectionTimeoutMillis: 15_000 });
  client.on('error', () => undefined); // a server going away is reported by the next query
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

async function withClient<T>(host: string, port: number, role: RoleCredentials, database: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await connect(host, port, role, database);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Counts what is not PostgreSQL's own in a database: schemas besides public, relations anywhere outside the system schemas. */
async function userObjects(c: Client): Promise<number> {
  const r = await c.query<{ n: number }>(`
    SELECT (SELECT count(*) FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'public'))
         + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema')
         AS n`);
  return Number(r.rows[0]!.n);
}

/** Every start, as the superuser over TCP: the service role as it must be, owning its database. */
export async function provisionServiceRole(host: string, port: number, credentials: ClusterCredentials, logger: SecurityLogger): Promise<void> {
  const su = credentials.superuser;
  const svc = credentials.service;
  const database = svc.database;
  ident(svc.user); // validated: it is spliced into the DO block below
  let legacy = false;
  await withClient(host, port, su, 'template1', async (c) => {
    const verifier = scramVerifier(svc.password);
    const attrs = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT';
    const role = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [svc.user]);
    await c.query(`${role.rowCount ? 'ALTER' : 'CREATE'} ROLE ${ident(svc.user)} WITH ${attrs} PASSWORD '${verifier}'`);
    // Direct grants of the server-access roles are revoked; an indirect one (through another role) is an error.
    const direct = await c.query<{ rolname: string }>(
      'SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1 AND g.rolname = ANY($2)',
      [svc.user, SERVER_ACCESS_ROLES],
    );
    for (const { rolname } of direct.rows) {
      await c.query(`REVOKE ${ident(rolname)} FROM ${ident(svc.user)}`);
      logger.warn(`revoked ${rolname} from ${svc.user}`);
    }
    const still = await c.query<{ g: string }>("SELECT g FROM unnest($2::text[]) g WHERE pg_has_role($1, g, 'MEMBER')", [svc.user, SERVER_ACCESS_ROLES]);
    if (still.rowCount) throw new EmbeddedPostgresError('PROVISION_FAILED', `role ${svc.user} is a member of ${still.rows.map((r) => r.g).join(', ')} through another role; revoke that membership`);

    const db = await c.query<{ owner: string }>('SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [database]);
    if (db.rowCount === 0) {
      // The old scheme kept the services' tables in `postgres`: that database becomes the service database.
      legacy = database !== 'postgres' && (await withClient(host, port, su, 'postgres', userObjects).catch(() => 0)) > 0;
      if (legacy) {
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'postgres' AND pid <> pg_backend_pid()");
        await c.query(`ALTER DATABASE postgres RENAME TO ${ident(database)}`);
        await c.query('CREATE DATABASE postgres');
        logger.warn(`database postgres (the services' tables of the old scheme) renamed to ${database}, now owned by role ${svc.user}; a new empty postgres database was created`);
      } else {
        await c.query(`CREATE DATABASE ${ident(database)} OWNER ${ident(svc.user)}`);
      }
    }
    if (db.rows[0]?.owner !== svc.user) await c.query(`ALTER DATABASE ${ident(database)} OWNER TO ${ident(svc.user)}`);
  });
  // Whatever the superuser owns in the service database (the old scheme's tables) goes to the service role.
  await withClient(host, port, su, database, async (c) => {
    const owned = await c.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM pg_namespace WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND nspname !~ '^pg_' AND nspname <> 'information_schema')
            + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND c.relkind IN ('r','p','v','m','f','S') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema') AS n`,
    );
    if (Number(owned.rows[0]!.n) === 0) return;
    await c.query(`DO $$
      DECLARE
        su oid := (SELECT oid FROM pg_roles WHERE rolname = current_user);
        r record;
      BEGIN
        FOR r IN SELECT nspname FROM pg_namespace WHERE nspowner = su AND nspname !~ '^pg_' AND nspname <> 'information_schema' LOOP
          EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, '${svc.user}');
        END LOOP;
        -- tables first: a table's owned sequences change owner with it
        FOR r IN SELECT c.oid, c.relkind, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relowner = su AND c.relkind IN ('r','p','v','m','f','S') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
                 ORDER BY c.relkind = 'S' LOOP
          CONTINUE WHEN (SELECT relowner FROM pg_class WHERE oid = r.oid) <> su;
          EXECUTE format('ALTER %s %I.%I OWNER TO %I',
            CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
            r.nspname, r.relname, '${svc.user}');
        END LOOP;
      END $$`);
    logger.warn(`${owned.rows[0]!.n} schemas/tables in database ${database} owned by superuser ${su.user} handed to role ${svc.user}`);
  });
  if (legacy) logger.info(`cluster migrated: services now connect as ${svc.user} to database ${database}`);
}
