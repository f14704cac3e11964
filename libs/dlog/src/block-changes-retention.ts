/**
 * How far one partition of dsf.block-changes may be truncated: "the log keeps what has not yet
 * been secured, and no more". Pure; the change logger asks it for each partition it owns and
 * truncates with Kafka's DeleteRecords (docs/ARCHITECTURE.md, "Retention").
 *
 * Who needs a dsf.block-changes record on the topic:
 * - the change logger (the consumer of record), until it logged the record: its images are in
 *   the PLOG, its ranges in the DLOG, a NucleusState republished on dsf.nucleus-state, all
 *   published with acks=-1 before the group's offset moves past it. Nothing at or above its
 *   committed offset goes; with nothing committed, nothing goes.
 * - every other live reader (a consumer group with members assigned the partition: the save
 *   writer's tail waiting for the EtSync of its save, the merge engine's, `dsf upstream check`),
 *   until it read the record: nothing at or above its committed offset goes, and a reader that
 *   has committed nothing yet holds the whole partition. Retention waits for it and says so.
 *   A reader that is gone (its group has no members) holds nothing: when it starts again it reads
 *   from the log start, and what it folded from the deleted records (the nucleus state) is on
 *   dsf.nucleus-state.
 * - a save in progress on a database of the partition (a DLOG capture pending or awaited): its
 *   capture and the sync replies it waits for are at the head of the log, not below the cut; the
 *   cut stays below what was secured when the retention first saw the save running (`from`), so
 *   nothing logged while it runs goes under it, and saves back to back still let the log be cut
 *   (a save seen without `from` holds the whole partition).
 */

export interface BlockChangesReader {
  /** the consumer group (a live one: it has members assigned this partition) */
  readonly group: string;
  /** its committed offset (the next record it reads), or null: nothing committed yet */
  readonly committed: number | null;
}

export interface BlockChangesRetentionInput {
  readonly partition: number;
  /** the partition's log start offset now */
  readonly logStart: number;
  /** the partition's end (high watermark) */
  readonly end: number;
  /** the change logger's committed offset on this partition, or null: nothing committed */
  readonly logged: number | null;
  /** live readers of the partition other than the change logger */
  readonly readers: readonly BlockChangesReader[];
  /**
   * saves in progress on databases of this partition; `from`: what was secured when the retention
   * first saw the save running (the save needs nothing logged before: its capture is of the DLOG
   * and the sync replies it waits for come later), absent: it holds the whole partition
   */
  readonly runningSaves: ReadonlyArray<{ readonly dbid: number; readonly correlationId: string; readonly from?: number }>;
}

export interface RetentionWait {
  /** who holds the cut back: `group <id>` or `save <correlationId>` */
  readonly holder: string;
  /** records the holder keeps that the change logger has logged (what retention would delete without it) */
  readonly heldBack: number;
  /** the holder's committed offset (null: a save, or a reader with nothing committed) */
  readonly position: number | null;
  readonly why: string;
}

export interface BlockChangesRetentionDecision {
  /** truncate below this offset (DeleteRecords), or null: nothing to delete now */
  readonly cutBelow: number | null;
  /** what the change logger has secured (its committed offset, at most the end), or null */
  readonly secured: number | null;
  /** the readers and saves that hold the cut below what is secured */
  readonly waiting: readonly RetentionWait[];
  readonly why: string;
}

/**
 * Where live readers let a partition be cut when `secured` is what its owner could let go: at the
 * lowest committed offset below it (a reader with nothing committed: the log start), with a wait
 * for each reader that holds the cut back.
 */
export function waitForReaders(partition: number, secured: number, logStart: number, readers: readonly BlockChangesReader[]): { limit: number; waiting: RetentionWait[] } {
  let limit = secured;
  const waiting: RetentionWait[] = [];
  for (const r of readers) {
    if (r.committed === null) {
      waiting.push({ holder: `group ${r.group}`, heldBack: Math.max(0, secured - logStart), position: null, why: `reader ${r.group} has committed nothing on partition ${partition} yet` });
      limit = logStart;
      continue;
    }
    checkOffset(r.committed, `committed offset of ${r.group}`);
    if (r.committed < secured) {
      const from = Math.max(r.committed, logStart);
      waiting.push({ holder: `group ${r.group}`, heldBack: secured - from, position: r.committed, why: `reader ${r.group} is at offset ${r.committed}, ${secured - r.committed} record(s) behind what is secured` });
      limit = Math.min(limit, from);
    }
  }
  return { limit, waiting };
}

export function checkOffset(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative integer, got ${v}`);
}

export function blockChangesRetention(input: BlockChangesRetentionInput): BlockChangesRetentionDecision {
  const { partition: p, logStart, end, logged } = input;
  checkOffset(logStart, 'logStart');
  checkOffset(end, 'end');
  if (end < logStart) throw new RangeError(`end (${end}) is below logStart (${logStart})`);
  if (logged === null) return { cutBelow: null, secured: null, waiting: [], why: `the change logger has committed nothing on partition ${p} yet` };
  checkOffset(logged, 'logged');
  const secured = Math.min(logged, end);
  const waiting: RetentionWait[] = [];
  let savesLimit = secured;
  for (const s of input.runningSaves) {
    if (s.from === undefined) {
      waiting.push({ holder: `save ${s.correlationId}`, heldBack: Math.max(0, secured - logStart), position: null, why: `save ${s.correlationId} of database ${s.dbid} is in progress` });
      savesLimit = logStart;
      continue;
    }
    checkOffset(s.from, `offset of save ${s.correlationId}`);
    if (s.from < secured) {
      const from = Math.max(s.from, logStart);
      waiting.push({ holder: `save ${s.correlationId}`, heldBack: secured - from, position: s.from, why: `save ${s.correlationId} of database ${s.dbid} is in progress since offset ${s.from}` });
      savesLimit = Math.min(savesLimit, from);
    }
  }
  const held = waitForReaders(p, secured, logStart, input.readers);
  waiting.push(...held.waiting);
  const limit = Math.min(savesLimit, held.limit);
  const cutBelow = limit > logStart ? limit : null;
  const why =
    waiting.length > 0
      ? `waiting for ${waiting.map((w) => w.holder).join(', ')}`
      : secured > logStart
        ? `the change logger logged partition ${p} through offset ${secured - 1}`
        : `nothing logged above the log start ${logStart}`;
  return { cutBelow, secured, waiting, why };
}
