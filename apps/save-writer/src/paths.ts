import * as fs from 'node:fs';
import * as path from 'node:path';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Thrown for a user-given name that would leave its directory. */
export class UnsafeNameError extends Error {
  readonly code = 'VALIDATION';
  constructor(name: string) {
    super(`data set name ${JSON.stringify(name)} is not a plain name of [A-Za-z0-9._-] (1..128, no leading . _ -)`);
    this.name = 'UnsafeNameError';
  }
}

/** Where data sets live: `<dataDir>/datasets`. */
export const dataSetDir = (dataDir: string): string => path.join(dataDir, 'datasets');

/** The file of data set `name`, guaranteed inside the data set directory. */
export function dataSetPath(dataDir: string, name: string): string {
  if (!SAFE_NAME.test(name) || name.endsWith('.partial')) throw new UnsafeNameError(name);
  const dir = path.resolve(dataSetDir(dataDir));
  const file = path.resolve(dir, name);
  if (path.dirname(file) !== dir) throw new UnsafeNameError(name);
  return file;
}

/**
 * Default location of database `dbid`'s containers: `<dataDir>/databases/<dbid>`, or where the
 * reference nucleus keeps it when run from the same data directory (`<dataDir>/nucleus-sim/db<dbid>/db`).
 */
export function defaultDatabaseDir(dataDir: string, dbid: number): string {
  const own = path.join(dataDir, 'databases', String(dbid));
  const nucleus = path.join(dataDir, 'nucleus-sim', `db${dbid}`, 'db');
  return !fs.existsSync(own) && fs.existsSync(nucleus) ? nucleus : own;
}
