/**
 * Which databases the change logger protects. A dbid is known only from configuration
 * (CHANGE_LOGGER_DATABASES: database directories whose header.json gives dbid and
 * geometry): the change logger must know area sizes, block sizes and file extents to
 * validate upstream input, so an unregistered dbid is rejected (UNKNOWN_DBID), never guessed.
 */
import { BlockDatabase, type Geometry } from '@deltaflow/blockdb';
import type { BlockRef, DatabaseGeometry, RabnRange } from '@deltaflow/dlog';

export interface ProtectedDatabase {
  readonly dbid: number;
  readonly geometry: Geometry;
}

/** Reads dbid and geometry from database directories (read-only; the files are not kept open). */
export function databasesFromDirs(dirs: readonly string[]): ProtectedDatabase[] {
  return dirs.map((dir) => {
    const db = BlockDatabase.open(dir, { readOnly: true });
    try {
      return { dbid: db.dbid, geometry: db.geometry };
    } finally {
      db.close();
    }
  });
}

/** The DLOG's view of a block database geometry: area sizes and per-file extents by part. */
export function dlogGeometry(g: Geometry): DatabaseGeometry {
  const of = (f: Geometry['files'][number], kind: 'DS' | 'AC' | 'IX'): RabnRange[] =>
    f.extents.filter((e) => e.kind === kind).map((e) => ({ from: e.from, to: e.to }));
  return {
    assoBlocks: g.asso.blocks,
    dataBlocks: g.data.blocks,
    files: g.files.map((f) => ({ file: f.file, dataExtents: of(f, 'DS'), acExtents: of(f, 'AC'), indexExtents: of(f, 'IX') })),
  };
}

/** GCB, DSST and the FCB/FDT of every file slot: ASSO 1..2+2*maxFiles (see libs/blockdb geometry). */
export function adminBlocks(g: Geometry): BlockRef[] {
  const out: BlockRef[] = [];
  for (let rabn = 1; rabn <= 2 + 2 * g.maxFiles; rabn++) out.push({ area: 'ASSO', rabn });
  return out;
}
