import { BlockDatabase, lockDatabase } from '@deltaflow/blockdb';
import { assertArea, type Area } from '@deltaflow/blocks';
import { MergeError } from './errors';
import { areaStamp, readRestartState, readRestoreStatus, writeRestoreStatus } from './restore-state';

/** One block image from the PLOG, as the PLOG topic carries it. */
export interface PlogImage {
  readonly area: Area;
  readonly rabn: number;
  readonly lsn: number;
  readonly image: Uint8Array;
}

export interface RegenerateRequest {
  /** directory of the shadow database */
  readonly target: string;
  /** PLOG images in LSN order (non-decreasing); images at or below the shadow's LSN are skipped */
  readonly images: AsyncIterable<PlogImage> | Iterable<PlogImage>;
  /**
   * Stop at this LSN: images above it are not applied, and the shadow's status moves to it (the
   * caller states the PLOG is complete through it). Without it the status moves to the highest
   * LSN applied.
   */
  readonly toLsn?: number;
  readonly signal?: AbortSignal;
}

export interface RegenerateResult {
  /** the LSN the shadow stood at before */
  readonly fromLsn: number;
  /** the LSN it stands at now */
  readonly toLsn: number;
  /** images written (a block changed twice counts twice) */
  readonly blocks: number;
  /** the shadow's digest afterwards (BlockDatabase.digest) */
  readonly digest: string;
}

/**
 * REGENERATE (seed: "At any time, only an ADARES REGENERATE operation is needed to bring the shadow
 * database to the latest status of the original database ... processes the PLOG starting from the
 * point of the most recent delta save"): applies PLOG images above the shadow's LSN, in LSN order,
 * the last image per block winning, and moves the shadow's status to the LSN reached. The DSID is
 * unchanged (no save was restored); a later delta restore into the shadow must then reach at least
 * that LSN (restoreDelta refuses older deltas).
 *
 * Refused (RESTORE_INPUT_INVALID) for a database that is not a shadow, is mid-restore, or was
 * changed outside Deltaflow since its last restore (its area stamp differs). The shadow is locked
 * (lockDatabase) for the whole run, like a delta restore, so no other update touches it meanwhile.
 * An interrupted REGENERATE (abort, a bad image, an I/O error) records that it is unfinished
 * (`regeneratingFrom` in the status, with the area stamp after its writes): running REGENERATE
 * again applies the PLOG from that LSN once more (idempotent: images in LSN order, the last one per
 * block winning), and delta restores are refused until it finished. A REGENERATE killed outright
 * leaves the stamp unmatched: restore a full save, as after any foreign change.
 */
export async function regenerate(req: RegenerateRequest): Promise<RegenerateResult> {
  if (req.toLsn !== undefined && (!Number.isSafeInteger(req.toLsn) || req.toLsn < 0))
    throw new MergeError('VALIDATION', `toLsn must be a non-negative integer, got ${String(req.toLsn)}`);
  if (!BlockDatabase.exists(req.target)) throw new MergeError('NOT_FOUND', `no shadow database at ${req.target}`);
  const lock = await lockDatabase(req.target, 'a REGENERATE');
  try {
    if (readRestartState(req.target))
      throw new MergeError('RESTORE_INPUT_INVALID', `${req.target} is in the middle of a restore: finish it first`);
    const status = readRestoreStatus(req.target);
    if (!status || !status.shadow)
      throw new MergeError('RESTORE_INPUT_INVALID', `${req.target} is not an initialized shadow database: REGENERATE applies to shadows only`);
    if (status.stamp !== undefined && status.stamp !== areaStamp(req.target))
      throw new MergeError(
        'RESTORE_INPUT_INVALID',
        `shadow database ${req.target} was changed since its last restore (an update nucleus or utility ran on it): restore a full save first`,
      );
    const fromLsn = status.regeneratingFrom ?? status.lsn ?? 0;
    if (req.toLsn !== undefined && req.toLsn < fromLsn)
      throw new MergeError('VALIDATION', `toLsn ${req.toLsn} is below the shadow's LSN ${fromLsn}`);
    const db = BlockDatabase.open(req.target);
    let blocks = 0;
    let highest = fromLsn;
    try {
      let last = -1;
      for await (const img of req.images as AsyncIterable<PlogImage>) {
        if (req.signal?.aborted) throw new MergeError('INTERRUPTED', 'REGENERATE stopped on request');
        if (!Number.isSafeInteger(img.lsn) || img.lsn < last)
          throw new MergeError('VALIDATION', `PLOG images must come in LSN order: ${img.lsn} after ${last}`);
        last = img.lsn;
        if (img.lsn <= fromLsn) continue;
        if (req.toLsn !== undefined && img.lsn > req.toLsn) break;
        assertArea(img.area);
        // Written in arrival (LSN) order, so the last image of a block is the one that stays.
        db.writeBlock(img.area, img.rabn, img.image);
        blocks++;
        highest = img.lsn;
      }
      db.flush();
      const toLsn = req.toLsn ?? highest;
      const digest = db.digest();
      const { regeneratingFrom: _unfinished, ...rest } = status;
      writeRestoreStatus(req.target, { ...rest, stamp: areaStamp(req.target), lsn: toLsn });
      return { fromLsn, toLsn, blocks, digest };
    } catch (e) {
      if (blocks > 0) {
        db.flush();
        writeRestoreStatus(req.target, { ...status, stamp: areaStamp(req.target), regeneratingFrom: fromLsn });
      }
      throw e;
    } finally {
      db.close();
    }
  } finally {
    await lock.release();
  }
}
