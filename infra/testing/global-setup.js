// Starts ONE embedded PostgreSQL for the whole jest run and hands its URL to every worker
// through DELTAFLOW_TEST_PG_URL (workers inherit the environment of the jest process).
// With DATABASE_URL set, that server is used instead and nothing is started. fsync is off:
// the cluster is thrown away at teardown.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

module.exports = async () => {
  if (process.env.DATABASE_URL) {
    process.env.DELTAFLOW_TEST_PG_URL = process.env.DATABASE_URL;
    return;
  }
  require('../launcher/bin/register');
  const { startEmbeddedPostgres, startPostgresWatchdog } = require('../embedded-postgres/src/index.ts');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-jest-pg-'));
  try {
    const pg = await startEmbeddedPostgres({ dataDir, fsync: false, maxConnections: 200, logger: { info: () => undefined, warn: (m) => process.stderr.write(`embedded-postgres: ${m}\n`) } });
    // if jest dies without globalTeardown (a timeout's SIGKILL), no postgres is left behind
    const watchdog = startPostgresWatchdog(process.pid, pg.pid, { removeDataDir: dataDir });
    globalThis.__DELTAFLOW_TEST_PG__ = { pg, dataDir, watchdog };
    process.env.DELTAFLOW_TEST_PG_URL = pg.adminUrl; // the superuser: the test-database factory creates databases with it
  } catch (err) {
    // Tests that need PostgreSQL then fail with this reason; the others still run.
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.stderr.write(`\nembedded PostgreSQL did not start, integration tests needing it will fail: ${err && err.message}\n`);
  }
};
