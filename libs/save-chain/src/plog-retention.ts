/**
 * How far the PLOG topic (dsf.plog) may be truncated: "the log keeps what saves have not yet
 * secured, and no more". Pure; the DSIM builder asks it for each partition and truncates with
 * Kafka's DeleteRecords (docs/ARCHITECTURE.md, "Retention").
 *
 * Who needs a PLOG record on the topic:
 * - the DSIM builder, until it stored the record in PostgreSQL (its PLOG copy, which the DSIMs are
 *   built from): nothing at or above its applied offset goes;
 * - REGENERATE (a shadow brought forward from the PLOG), as far back as the policy keeps: the PLOG
 *   since the start of each database's `keepSaves`-th last completed save (a shadow initialised
 *   from one of those saves, or from a later one, can always be regenerated).
 *
 * A cut is always at a PlogSync record: every image at or below its LSN was written before it
 * (one database is one partition, in LSN order), so the records below it hold only LSNs at or
 * below the sync. A database without `keepSaves` completed saves, or whose saves started before
 * any sync offset known here, keeps everything (the retention waits and says why).
 */

export interface PlogRetentionDatabase {
  readonly dbid: number;
  /** start LSNs of the database's completed saves, any order */
  readonly saveStarts: readonly number[];
  /** the PlogSync records of the database in this partition: LSN and offset */
  readonly syncs: ReadonlyArray<{ readonly lsn: number; readonly offset: number }>;
}

export interface PlogRetentionInput {
  /** PLOG since the start of the last `keepSaves` completed saves of each database (>= 1) */
  readonly keepSaves: number;
  /** the next offset the DSIM builder has not stored yet in this partition */
  readonly applied: number;
  /** the partition's log start offset now */
  readonly logStart: number;
  readonly databases: readonly PlogRetentionDatabase[];
}

export interface PlogRetentionDecision {
  /** truncate below this offset (DeleteRecords), or null: nothing to delete now */
  readonly cutBelow: number | null;
  /** the offset each database would allow (null: it keeps everything), with why */
  readonly databases: ReadonlyArray<{ readonly dbid: number; readonly keepFrom: number | null; readonly why: string }>;
}

export function plogRetention(input: PlogRetentionInput): PlogRetentionDecision {
  if (!Number.isInteger(input.keepSaves) || input.keepSaves < 1) throw new RangeError(`keepSaves must be an integer >= 1, got ${input.keepSaves}`);
  const databases = input.databases.map((d) => {
    const starts = [...d.saveStarts].sort((a, b) => b - a);
    if (starts.length < input.keepSaves) {
      return { dbid: d.dbid, keepFrom: null, why: `${starts.length} completed save(s), the policy keeps the PLOG since the start of the last ${input.keepSaves}` };
    }
    const lsn = starts[input.keepSaves - 1];
    // the last sync at or below the save's start: every record below it is at or below that LSN
    let best: { lsn: number; offset: number } | undefined;
    for (const s of d.syncs) if (s.lsn <= lsn && (!best || s.lsn > best.lsn || (s.lsn === best.lsn && s.offset < best.offset))) best = s;
    if (!best) return { dbid: d.dbid, keepFrom: null, why: `no PLOG sync point known at or below LSN ${lsn} (the start of its save ${input.keepSaves} back)` };
    return { dbid: d.dbid, keepFrom: best.offset, why: `the PLOG since LSN ${best.lsn} (its save ${input.keepSaves} back started at LSN ${lsn})` };
  });
  if (databases.length === 0 || databases.some((d) => d.keepFrom === null)) return { cutBelow: null, databases };
  const cut = Math.min(input.applied, ...databases.map((d) => d.keepFrom as number));
  return { cutBelow: cut > input.logStart ? cut : null, databases };
}
