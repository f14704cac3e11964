import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockDbError } from './errors';
import { validateGeometry, type Geometry } from '@deltaflow/blocks';
import { writeFileAtomic } from '@deltaflow/core';

/** Files of a database directory: `header.json` (dbid + geometry) and one file per area. */
export const HEADER_FILE = 'header.json';
export const AREA_FILES = { ASSO: 'ASSO', DATA: 'DATA' } as const;
const FORMAT = 'deltaflow-blockdb';
const VERSION = 1;

export interface DbHeader {
  readonly dbid: number;
  readonly geometry: Geometry;
}

/** Throws VALIDATION unless dbid is an integer in 1..65535 (the range of database ids). */
export function validateDbid(dbid: unknown): number {
  if (typeof dbid !== 'number' || !Number.isInteger(dbid) || dbid < 1 || dbid > 65535)
    throw new BlockDbError('VALIDATION', `dbid must be an integer in 1..65535, got ${String(dbid)}`);
  return dbid;
}

/** Writes the header of the database in `dir` atomically. */
export function writeHeader(dir: string, h: DbHeader): void {
  const body = { format: FORMAT, version: VERSION, dbid: h.dbid, geometry: h.geometry };
  writeFileAtomic(path.join(dir, HEADER_FILE), JSON.stringify(body, null, 2) + '\n');
}

/** Reads and validates the header in `dir`: NOT_FOUND when absent, CORRUPT_HEADER when unusable. */
export function readHeader(dir: string): DbHeader {
  const file = path.join(dir, HEADER_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e: any) {
    if (e?.code === 'ENOENT') throw new BlockDbError('NOT_FOUND', `no block database at ${dir}`);
    throw e;
  }
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BlockDbError('CORRUPT_HEADER', `${file} is not valid JSON`);
  }
  if (body?.format !== FORMAT || body?.version !== VERSION)
    throw new BlockDbError('CORRUPT_HEADER', `${file}: expected ${FORMAT} version ${VERSION}`);
  try {
    return { dbid: validateDbid(body.dbid), geometry: validateGeometry(body.geometry) };
  } catch (e) {
    throw new BlockDbError('CORRUPT_HEADER', `${file}: ${(e as Error).message}`);
  }
}

/**
 * Where the containers of database `dbid` live under a data directory: `<dataDir>/databases/<dbid>`,
 * or where the reference nucleus keeps its own when run from the same data directory
 * (`<dataDir>/nucleus-sim/db<dbid>/db`).
 */
export function databaseDir(dataDir: string, dbid: number): string {
  const own = path.join(dataDir, 'databases', String(dbid));
  const nucleus = path.join(dataDir, 'nucleus-sim', `db${dbid}`, 'db');
  return !fs.existsSync(own) && fs.existsSync(nucleus) ? nucleus : own;
}
