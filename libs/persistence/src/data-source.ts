/**
 * TypeORM data sources for PostgreSQL: schema only by numbered migrations (synchronize is
 * always off), migrations run when a service opens its data source.
 */
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import { PersistenceError } from './errors';

export interface DataSourceOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly entities: MixedList<Function | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly migrations: Function[];
  /** a schema of its own (created if missing); unqualified table names in migrations land there */
  readonly schema?: string;
  readonly logging?: boolean;
  /** pool size (default 10) */
  readonly poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A PostgreSQL DataSource with synchronize off; not yet initialized. */
export function createDataSource(opts: DataSourceOptions): DataSource {
  if (!/^postgres(ql)?:\/\//.test(opts.url)) {
    throw new PersistenceError('VALIDATION', `database url must start with postgres:// (got ${redact(opts.url)})`);
  }
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
    throw new PersistenceError('VALIDATION', `schema name must match ${SCHEMA_NAME} (got ${JSON.stringify(opts.schema)})`);
  }
  return new DataSource({
    type: 'postgres',
    url: opts.url,
    entities: opts.entities,
    migrations: opts.migrations,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: opts.logging ?? false,
    ...(opts.schema ? { schema: opts.schema } : {}),
    extra: {
      max: opts.poolSize ?? 10,
      // Every pooled connection resolves unqualified names in the service's schema.
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    },
  });
}

/** createDataSource + initialize + create the schema if needed + run pending migrations. */
export async function openDataSource(opts: DataSourceOptions): Promise<DataSource> {
  const ds = createDataSource(opts);
  await ds.initialize();
  try {
    if (opts.schema) await ds.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema}"`);
    // Two instances starting together: one runs the migrations, the other waits and finds none pending.
    await runMigrationsLocked(ds, opts.schema ?? 'public');
  } catch (err) {
    await ds.destroy().catch(() => undefined);
    if (err instanceof PersistenceError) throw err;
    throw new PersistenceError('MIGRATION', `migrations failed on ${redact(opts.url)}: ${(err as Error).message}`, true, { cause: err });
  }
  return ds;
}

async function runMigrationsLocked(ds: DataSource, schema: string): Promise<void> {
  // A session-level advisory lock held on one dedicated connection while migrations run.
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [`deltaflow-migrations:${schema}`]);
    try {
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [`deltaflow-migrations:${schema}`]);
    }
  } finally {
    await runner.release();
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
