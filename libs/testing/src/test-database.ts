/**
 * Fresh databases on the one PostgreSQL that jest's globalSetup starts (or DATABASE_URL's
 * server): each integration test gets a database of its own and drops it when done.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Environment variable through which globalSetup hands the server URL to every worker. */
export const TEST_PG_URL_ENV = 'DELTAFLOW_TEST_PG_URL';

export interface TestDatabase {
  /** URL of the fresh database */
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

/** Creates a fresh database named `t_<random>` and returns its URL. */
export async function testDatabase(): Promise<TestDatabase> {
  return databaseOn(testServerUrl());
}

/** Creates a fresh database named `t_<random>` on the server of `serverUrl` (a superuser URL). */
export async function databaseOn(serverUrl: string): Promise<TestDatabase> {
  const name = `t_${randomBytes(8).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
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
