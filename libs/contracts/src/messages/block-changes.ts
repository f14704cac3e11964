/**
 * dsf.block-changes: what the upstream database engine (nucleus) publishes. Key: dbid.
 *
 * Choices where DESIGN is vague:
 * - Every message carries an LSN so that the change logger can order and deduplicate the
 *   whole stream per dbid (UtilityChanged and NucleusState too).
 * - `txn` is the id of the transaction that wrote the block (0 = outside a transaction,
 *   e.g. a utility); EtSync marks a point where no transaction is open.
 * - `image` is the full after-image of the block (1 B .. 1 MiB; real block sizes are ≤ 32 KiB).
 * - UtilityChanged without `ranges` means "the whole of each named part of the file"
 *   (seed: REORFDATA marks the entire data storage and address converter).
 * - NucleusState.at is the engine's clock (ms since the epoch) when it became (in)active.
 */
import { area, blockRanges, dbid, filePart, id, lsn, rabn, timestamp } from '../common';
import { defineMessage } from '../define';
import { array, boolean, bytes, int, optional, uint } from '../schema';

export const MAX_BLOCK_IMAGE = 1024 * 1024;

export const BlockChanged = defineMessage({
  type: 'BlockChanged',
  version: 1,
  topic: 'dsf.block-changes',
  fields: { dbid: dbid(), area: area(), rabn: rabn(), lsn: lsn(), txn: uint(), image: bytes({ minLength: 1, maxLength: MAX_BLOCK_IMAGE }) },
});

export const EtSync = defineMessage({
  type: 'EtSync',
  version: 1,
  topic: 'dsf.block-changes',
  fields: { dbid: dbid(), lsn: lsn(), syncId: id() },
});

export const UtilityChanged = defineMessage({
  type: 'UtilityChanged',
  version: 1,
  topic: 'dsf.block-changes',
  fields: {
    dbid: dbid(),
    lsn: lsn(),
    file: int({ min: 1, max: 65535 }),
    parts: array(filePart(), { minLength: 1, maxLength: 3, unique: true }),
    ranges: optional(blockRanges()),
  },
});

export const NucleusState = defineMessage({
  type: 'NucleusState',
  version: 1,
  topic: 'dsf.block-changes',
  fields: { dbid: dbid(), lsn: lsn(), active: boolean(), at: timestamp() },
});

export const BLOCK_CHANGES_MESSAGES = [BlockChanged, EtSync, UtilityChanged, NucleusState] as const;
