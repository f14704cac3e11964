/**
 * The services `npm start` runs, in start order. Each is a NestJS application under apps/
 * started as its own process, exactly as it would run alone against external Kafka and
 * PostgreSQL (see README, "Running one service alone"). A service is ready when it sends
 * the IPC message {type: 'ready'} (with `httpUrl` when it serves HTTP).
 */
export interface ServiceSpec {
  /** folder under apps/ */
  name: string;
  /** whether it needs DATABASE_URL */
  database: boolean;
  /** what it does, for the start-up table */
  role: string;
  /** extra environment for the embedded default (the launcher's own environment wins) */
  env?: Record<string, string>;
}

export const SERVICES: ServiceSpec[] = [
  // the reference upstream first: it creates the sample database the change logger protects
  { name: 'nucleus-sim', database: false, role: 'reference nucleus, sample database 1 with a running workload', env: { NUCLEUS_DBID: '1' } },
  { name: 'change-logger', database: false, role: 'DLOG/PLOG from dsf.block-changes' },
  { name: 'dsim-builder', database: true, role: 'DSIMs of online saves (PostgreSQL)' },
  { name: 'save-writer', database: false, role: 'full/delta, online/offline saves' },
  { name: 'merge-engine', database: false, role: 'merge, restore delta, shadows, REGENERATE, file unload' },
  { name: 'catalog', database: true, role: 'read models + query API', env: { CATALOG_HTTP_PORT: '18080' } },
];
