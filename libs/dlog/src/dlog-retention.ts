/**
 * When the change logger snapshots the DLOG of a partition's databases on dsf.dlog, and how far
 * the partition may then be truncated (docs/ARCHITECTURE.md, "Retention"). Pure.
 *
 * A round of snapshots (one DlogSnapshotted per protected database of the partition, published
 * with nothing else in between) makes every record before the first of them unnecessary for a
 * rebuild: folding from that offset gives the same DLOG. A round is taken once `snapshotEvery`
 * records were appended since the last one (or since the log start), and the partition is cut
 * below the last round's first offset, but not below what a live reader (the catalog's group,
 * the save writer's tail) has read: it is waited for, as on dsf.block-changes. A cut is always at
 * the first offset of a complete round (`rounds`: the last one, or an earlier one when a reader
 * holds the last back), never between rounds: a log must start with snapshots, or a rebuild from
 * its start would fold the tail onto an empty DLOG. A round counts once every part of every
 * snapshot in it was acknowledged (snapshot-parts.ts); a round cut short is never one. While a protected
 * database with a DLOG has no known partition (before its first record after a restart), no
 * round is taken and nothing is cut: its events could be on any partition.
 */
import { checkOffset, waitForReaders, type BlockChangesReader, type RetentionWait } from './block-changes-retention';

export interface DlogRetentionInput {
  readonly partition: number;
  readonly logStart: number;
  readonly end: number;
  /** the offset of the first snapshot of the last round on this partition, or null: none known */
  readonly snapshotAt: number | null;
  /** the first offsets of the complete rounds known on this partition (snapshotAt among them; default [snapshotAt]) */
  readonly rounds?: readonly number[];
  /** records appended since the last round before the next one is taken (>= 1) */
  readonly snapshotEvery: number;
  /** live readers of the partition (consumer groups with a member assigned it) */
  readonly readers: readonly BlockChangesReader[];
  /** protected databases with a DLOG whose partition is not known yet */
  readonly unplaced: readonly number[];
}

export interface DlogRetentionDecision {
  /** take a round of snapshots now (then ask again with its offset) */
  readonly snapshot: boolean;
  readonly cutBelow: number | null;
  readonly waiting: readonly RetentionWait[];
  readonly why: string;
}

export function dlogRetention(input: DlogRetentionInput): DlogRetentionDecision {
  const { partition: p, logStart, end, snapshotAt } = input;
  checkOffset(logStart, 'logStart');
  checkOffset(end, 'end');
  if (!Number.isSafeInteger(input.snapshotEvery) || input.snapshotEvery < 1) throw new RangeError(`snapshotEvery must be an integer >= 1, got ${input.snapshotEvery}`);
  if (input.unplaced.length > 0) {
    return { snapshot: false, cutBelow: null, waiting: [], why: `the partition of database(s) ${input.unplaced.join(', ')} is not known yet` };
  }
  const since = snapshotAt === null || snapshotAt < logStart ? logStart : snapshotAt;
  const snapshot = end - since >= input.snapshotEvery;
  if (snapshotAt === null || snapshotAt <= logStart) {
    return { snapshot, cutBelow: null, waiting: [], why: snapshotAt === null ? `no snapshot of partition ${p} taken yet` : `the log starts at the last snapshots` };
  }
  checkOffset(snapshotAt, 'snapshotAt');
  const held = waitForReaders(p, Math.min(snapshotAt, end), logStart, input.readers);
  const rounds = input.rounds ?? [snapshotAt];
  for (const r of rounds) checkOffset(r, 'a round offset');
  // the highest complete round the readers let go of
  const at = rounds.filter((r) => r > logStart && r <= held.limit && r <= snapshotAt).reduce<number | null>((m, r) => (m === null || r > m ? r : m), null);
  const cutBelow = at;
  const why = held.waiting.length > 0 ? `waiting for ${held.waiting.map((w) => w.holder).join(', ')}` : `the DLOG of partition ${p} is snapshotted at offset ${snapshotAt}`;
  return { snapshot, cutBelow, waiting: held.waiting, why };
}
