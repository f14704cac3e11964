import { adminBlockCount, Area, assertArea, BlockDatabase, BlockRange, normalizeRanges } from '@deltaflow/blockdb';
import type { Dsid } from '@deltaflow/dsid';
import { SaveFormatError } from './errors';
import { SaveKind } from './header';
import { SaveWriter, WriterOptions, WrittenDataSet } from './writer';

export interface SaveMeta {
  readonly dsid: Dsid;
  readonly kind: SaveKind;
  readonly online: boolean;
  readonly startLsn: number;
  readonly endLsn: number;
}

/** A block address, as a DLOG lists it. */
export interface BlockAddress {
  readonly area: Area;
  readonly rabn: number;
}

/**
 * Writes a save of `db` to `file`. Without `changed`: every used block (a full save). With
 * `changed`: those blocks plus all admin blocks (GCB, DSST, FCBs, FDTs), which every save holds.
 * Blocks are read as they are now; for an online save the DSIM supplies later images.
 */
export async function writeSaveFromDatabase(
  db: BlockDatabase,
  file: string,
  meta: SaveMeta,
  changed?: Iterable<BlockAddress>,
  opts?: WriterOptions,
): Promise<WrittenDataSet> {
  const ranges = changed ? deltaRanges(db, changed) : db.usedRanges;
  const w = await SaveWriter.create(file, { ...meta, dbid: db.dbid, geometry: db.geometry }, opts);
  try {
    for (const r of ranges) for (const b of db.blocksIn(r)) await w.writeBlock(b.area, b.rabn, b.image);
    return await w.finish();
  } catch (e) {
    await w.abort();
    throw e;
  }
}

function deltaRanges(db: BlockDatabase, changed: Iterable<BlockAddress>): BlockRange[] {
  const r: BlockRange[] = [{ area: 'ASSO', from: 1, to: adminBlockCount(db.geometry) }];
  for (const c of changed) {
    try {
      assertArea(c.area);
    } catch {
      throw new SaveFormatError('VALIDATION', `unknown area ${JSON.stringify(c.area)}`);
    }
    const max = db.blockCount(c.area);
    if (!Number.isInteger(c.rabn) || c.rabn < 1 || c.rabn > max)
      throw new SaveFormatError('VALIDATION', `${c.area} RABN ${c.rabn} not in 1..${max}`);
    r.push({ area: c.area, from: c.rabn, to: c.rabn });
  }
  return normalizeRanges(r);
}
