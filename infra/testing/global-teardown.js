// Stops the embedded PostgreSQL started by global-setup.js and removes its data directory and credentials.
const fs = require('node:fs');

module.exports = async () => {
  const started = globalThis.__DELTAFLOW_TEST_PG__;
  if (!started) return;
  globalThis.__DELTAFLOW_TEST_PG__ = undefined;
  try {
    await started.pg.stop();
  } finally {
    fs.rmSync(started.dataDir, { recursive: true, force: true });
    started.watchdog?.kill();
  }
};
