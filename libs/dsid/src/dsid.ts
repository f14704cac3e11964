/**
 * A Delta Save identifier: full save number, delta save number (a range after a merge of
 * deltas), the time stamp of the last save it covers, and the lineage branch it belongs to.
 * Seed form: `4/0-2/t3`; Deltaflow prints the time stamp as ISO-8601 and appends the lineage
 * as `@<lineage>`. Time stamps are milliseconds since the epoch, passed in, never read here.
 */
export interface Dsid {
  /** full save number: counts full saves since Deltaflow protected the database */
  readonly full: number;
  /** first delta save number covered (0 for a full save) */
  readonly deltaFrom: number;
  /** last delta save number covered (equal to deltaFrom unless merged) */
  readonly deltaTo: number;
  /** time stamp of the last save covered, ms since the epoch */
  readonly timestamp: number;
  /** lineage branch id: a full save starts one; a restore to an older status starts a new branch */
  readonly lineage: string;
}

/** What a data set is, as far as merge and restore-delta input checks are concerned. */
export type DataSetKind = 'full' | 'delta' | 'original-dsim' | 'unloaded-dsim';
/** What a save holds: every used block (full) or the blocks changed since the last save (delta). */
export type SaveKind = Extract<DataSetKind, 'full' | 'delta'>;
/** Every data set kind. */
export const DATA_SET_KINDS: readonly DataSetKind[] = ['full', 'delta', 'unloaded-dsim', 'original-dsim'];

/**
 * The header facts of one input data set that the DSID rules look at. For a DSIM
 * (original or unloaded) `dsid` is the DSID of the online save the DSIM belongs to.
 * `name` is how errors refer to the input (a data set name or path).
 */
export interface DataSetDescriptor {
  readonly name: string;
  readonly dbid: number;
  readonly kind: DataSetKind;
  readonly dsid: Dsid;
  /** true for a save taken while the nucleus was active (it then needs its DSIM) */
  readonly online: boolean;
}
