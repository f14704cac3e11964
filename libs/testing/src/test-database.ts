/**
 * Fresh databases on the one PostgreSQL that jest's globalSetup starts (or DATABASE_URL's
 * server): each integration test gets a database of its own and drops it when done. The
 * superuser (DELTAFLOW_TEST_PG_URL) only creates and drops them; they are owned by, and
 * tests connect as, the service role (DELTAFLOW_TEST_PG_SERVICE_URL): no superuser, so what
 * passes here passes for a service under `npm start`.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Environment variable through which globalSetup hands the superuser's URL to every worker. */
export const TEST_PG_URL_ENV = 'DELTAFLOW_TEST_PG_URL';
/** Environment variable through which globalSetup hands the service role's URL to every worker. */
export const TEST_PG_SERVICE_URL_ENV = 'DELTAFLOW_TEST_PG_SERVICE_URL';

export interface TestDatabase {
  /** URL of the fresh database, as its owner (the service role when there is one) */
  readonly url: string;
  /** drops the database (terminating any connections left open). Idempotent. */
  drop(): Promise<void>;
}

/** The admin URL of the test PostgreSQL server; throws a clear error when there is none. */
export function testServerUrl(): string {
  const url = process.env[TEST_PG_URL_ENV];
  if (!url) {
    throw new Error(
      `${TEST_PG_URL_ENV} is not set: the jest globalSetup (infra/testing/global-setup.js) starts an embedded PostgreSQL and sets it; ` +
        'run the test through jest with the repository config, or set DATABASE_URL to a server it may create databases on',
    );
  }
  return url;
}

/** The URL of the role tests connect as (no superuser), if the server has one. */
export function testServiceUrl(): string | undefined {
  return process.env[TEST_PG_SERVICE_URL_ENV] || undefined;
}

/** Creates a fresh database named `t_<random>`, owned by the service role, and returns its URL. */
export async function testDatabase(): Promise<TestDatabase> {
  return databaseOn(testServerUrl(), testServiceUrl());
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Creates a fresh database named `t_<random>` on the server of `serverUrl` (a superuser
 * URL). With `serviceUrl` (a role of that server) the database is owned by that role and
 * the URL returned connects as it; otherwise as `serverUrl`'s user.
 */
export async function databaseOn(serverUrl: string, serviceUrl?: string): Promise<TestDatabase> {
  const name = `t_${randomBytes(8).toString('hex')}`;
  const url = new URL(serviceUrl ?? serverUrl);
  let owner = '';
  if (serviceUrl) {
    const role = decodeURIComponent(url.username);
    if (!ROLE_NAME.test(role)) throw new Error(`${TEST_PG_SERVICE_URL_ENV}: role name must match ${ROLE_NAME} (got ${JSON.stringify(role)})`);
    owner = ` OWNER "${role}"`;
  }
  await adminQuery(serverUrl, `CREATE DATABASE ${name}${owner}`);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop: () => (dropped ??= adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
