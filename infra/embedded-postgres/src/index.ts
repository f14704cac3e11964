export { startEmbeddedPostgres, pickFreePort } from './embedded-postgres';
export type { EmbeddedPostgresOptions, PostgresLogger, RunningPostgres } from './embedded-postgres';
export { defaultCredentialsFile, type ClusterCredentials, type RoleCredentials } from './credentials';
export { EmbeddedPostgresError, type EmbeddedPostgresErrorCode } from './errors';
export { startPostgresWatchdog, type WatchdogOptions } from './watchdog';
