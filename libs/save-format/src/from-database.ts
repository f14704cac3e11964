import type { BlockDatabase } from '@deltaflow/blockdb';
import type { BlockRange } from '@deltaflow/blocks';
import type { DataSetKind, Dsid } from '@deltaflow/dsid';
import { DataSetWriter, type WriterOptions, type WrittenDataSet } from './writer';

export interface SaveMeta {
  readonly dsid: Dsid;
  readonly kind: DataSetKind;
  readonly online: boolean;
  readonly startLsn: number;
  readonly endLsn: number;
}

/**
 * Writes the blocks of `ranges` (sorted and joined, as @deltaflow/dlog's blocksToSave gives them;
 * default: every used block, a full save) of `db` to the data set `file`. Blocks are read as they
 * are now; for an online save the DSIM supplies later images.
 */
export async function writeSaveFromDatabase(
  db: BlockDatabase,
  file: string,
  meta: SaveMeta,
  ranges: readonly BlockRange[] = db.usedRanges,
  opts?: WriterOptions,
): Promise<WrittenDataSet> {
  const w = await DataSetWriter.create(file, { ...meta, dbid: db.dbid, geometry: db.geometry }, opts);
  try {
    for (const r of ranges) for (const b of db.blocksIn(r)) await w.writeBlock(b.area, b.rabn, b.image);
    return await w.finish();
  } catch (e) {
    await w.abort();
    throw e;
  }
}
