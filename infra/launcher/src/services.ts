/**
 * The services `npm start` runs, in start order. Each is a NestJS application under apps/
 * started as its own process, exactly as it would run alone against external Kafka and
 * PostgreSQL (see README, "Running one service alone"). A service is ready when it sends
 * the IPC message {type: 'ready'} with `httpUrl`: every service serves /health and /metrics
 * there (and the catalog its queries).
 */
export interface ServiceSpec {
  /** folder under apps/ */
  name: string;
  /** whether it needs DATABASE_URL */
  database: boolean;
  /** what it does, for the start-up table */
  role: string;
  /** the loopback port it gets under `npm start` (<SERVICE>_HTTP_PORT wins; taken: any free port) */
  httpPort: number;
  /** extra environment for the embedded default (the launcher's own environment wins) */
  env?: Record<string, string>;
}

/** The variable naming a service's HTTP port, as the service kit reads it: CHANGE_LOGGER_HTTP_PORT. */
export function httpPortVariable(service: string): string {
  return `${service.toUpperCase().replace(/-/g, '_')}_HTTP_PORT`;
}

export const SERVICES: ServiceSpec[] = [
  // the reference upstream first: it creates the sample database the change logger protects
  { name: 'nucleus-sim', database: false, httpPort: 18081, role: 'reference nucleus, sample database 1 with a running workload', env: { NUCLEUS_DBID: '1' } },
  { name: 'change-logger', database: false, httpPort: 18082, role: 'DLOG/PLOG from dsf.block-changes' },
  { name: 'dsim-builder', database: true, httpPort: 18083, role: 'DSIMs of online saves (PostgreSQL)' },
  { name: 'save-writer', database: false, httpPort: 18084, role: 'full/delta, online/offline saves' },
  { name: 'merge-engine', database: false, httpPort: 18085, role: 'merge, restore delta, shadows, REGENERATE, file unload' },
  // volumes under $DELTAFLOW_DATA_DIR/tapes (SOV_VOLUME_DIR), where the catalog's SCANSTREAMFILE reads them too
  { name: 'stream-multiplexer', database: false, httpPort: 18086, role: 'streaming backup: sov.superblocks onto tape volumes in <data dir>/tapes' },
  { name: 'scheduler', database: false, httpPort: 18088, role: 'sample schedules: full save, daily deltas, weekly merge (dsf schedule)' },
  { name: 'catalog', database: true, httpPort: 18080, role: 'read models + query API' },
  // last: it reads the catalog and the /metrics of every service started before it (CONSOLE_SERVICES)
  { name: 'console', database: false, httpPort: 18087, role: "the operator's console: open it in a browser" },
];
