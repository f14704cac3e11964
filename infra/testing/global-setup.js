// Starts ONE embedded PostgreSQL for the whole jest run and hands it to every worker through
// the environment (workers inherit the environment of the jest process):
//   DELTAFLOW_TEST_PG_URL          the superuser's URL: the test-database factory creates and drops databases with it
//   DELTAFLOW_TEST_PG_SERVICE_URL  the service role's URL (no superuser): the databases are created OWNER this
//                                  role and tests connect as it, so the suite proves services need no superuser
// With DATABASE_URL set, that server is used instead (as DELTAFLOW_TEST_PG_URL) and nothing is started;
// DELTAFLOW_TEST_PG_SERVICE_URL, if set as well, names a role of that server for the tests to connect as.
// fsync is off: the cluster (data directory and credentials) is thrown away at teardown.
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
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-jest-pg-'));
  fs.chmodSync(root, 0o755); // as root, PostgreSQL runs as another OS user who must reach root/pg
  try {
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(root, 'pg'),
      credentialsFile: path.join(root, 'credentials', 'pg.json'),
      fsync: false,
      maxConnections: 200,
      logger: { info: () => undefined, warn: (m) => process.stderr.write(`embedded-postgres: ${m}\n`) },
    });
    // if jest dies without globalTeardown (a timeout's SIGKILL), no postgres is left behind
    const watchdog = startPostgresWatchdog(process.pid, pg.pid, { removeDataDir: root });
    globalThis.__DELTAFLOW_TEST_PG__ = { pg, dataDir: root, watchdog };
    process.env.DELTAFLOW_TEST_PG_URL = pg.adminUrl;
    process.env.DELTAFLOW_TEST_PG_SERVICE_URL = pg.url;
  } catch (err) {
    // Tests that need PostgreSQL then fail with this reason; the others still run.
    fs.rmSync(root, { recursive: true, force: true });
    process.stderr.write(`\nembedded PostgreSQL did not start, integration tests needing it will fail: ${err && err.message}\n`);
  }
};
