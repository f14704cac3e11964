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
  const { startEmbeddedPostgres } = require('../embedded-postgres/src/index.ts');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'deltaflow-jest-pg-'));
  try {
    const pg = await startEmbeddedPostgres({ dataDir, fsync: false, maxConnections: 200, logger: { info: () => undefined, warn: (m) => process.stderr.write(`embedded-postgres: ${m}\n`) } });
    const watchdog = startWatchdog(process.pid, pg.pid, dataDir);
    globalThis.__DELTAFLOW_TEST_PG__ = { pg, dataDir, watchdog };
    process.env.DELTAFLOW_TEST_PG_URL = pg.url;
  } catch (err) {
    // Tests that need PostgreSQL then fail with this reason; the others still run.
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.stderr.write(`\nembedded PostgreSQL did not start, integration tests needing it will fail: ${err && err.message}\n`);
  }
};

// If jest dies without running globalTeardown (SIGTERM from a timeout, SIGKILL), a detached
// watchdog stops the server and removes its data directory, so no postgres is left behind.
function startWatchdog(jestPid, pgPid, dataDir) {
  const { spawn } = require('node:child_process');
  const script = `
    const fs = require('node:fs');
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const [jestPid, pgPid, dataDir] = [${jestPid}, ${pgPid}, ${JSON.stringify(dataDir)}];
    const timer = setInterval(() => {
      if (alive(jestPid)) return;
      clearInterval(timer);
      try { process.kill(pgPid, 'SIGINT'); } catch {}
      let waited = 0;
      const wait = setInterval(() => {
        waited += 200;
        if (alive(pgPid) && waited === 10000) { try { process.kill(pgPid, 'SIGKILL'); } catch {} }
        if (!alive(pgPid) || waited > 15000) {
          clearInterval(wait);
          fs.rmSync(dataDir, { recursive: true, force: true });
          process.exit(0);
        }
      }, 200);
    }, 500);
  `;
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}
