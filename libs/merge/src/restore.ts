import { BlockDatabase } from '@deltaflow/blockdb';
import { BlockRange, fileRanges, geometryEquals, rangesContain } from '@deltaflow/blocks';
import { deriveMergedDsid, validateRestoreDelta } from '@deltaflow/dsid';
import type { Dsid } from '@deltaflow/dsid';
import { ReaderOptions, DataSetReader, SaveRecord } from '@deltaflow/save-format';
import { MergeError } from './errors';
import { checkSameShape, inPlanOrder, InputSet, loadInputs } from './inputs';
import { KWayMerge } from './kway';
import {
  areaStamp,
  identityOf,
  PlannedInput,
  readRestartState,
  readRestoreStatus,
  removeStateFile,
  RESTART_FILE,
  RestartState,
  STATUS_FILE,
  writeRestartState,
  writeRestoreStatus,
} from './restore-state';

export interface RestoreRequest {
  /** paths of the input data sets (full save, deltas, DSIMs), in any order */
  readonly inputs: readonly string[];
  /** directory of the target block database; created from the full save's header when missing */
  readonly target: string;
  /** the target is a shadow database: deltas may be applied without a full save */
  readonly shadow?: boolean;
  /** restrict the restore to these files (their FCB, FDT and extents); all blocks when absent */
  readonly files?: readonly number[];
  /** with `files`: also restore the GCB and DSST */
  readonly includeGcb?: boolean;
  readonly reader?: ReaderOptions;
  /** stops the restore between blocks (MergeError INTERRUPTED); the restart state stays for a resume */
  readonly signal?: AbortSignal;
  /** called every few thousand blocks and at the end of each phase */
  readonly onProgress?: (p: RestoreProgress) => void;
}

/** Progress of a restore: phase 'full' writes the full save, phase 'deltas' the merged deltas and DSIMs. */
export interface RestoreProgress {
  readonly phase: 'full' | 'deltas';
  readonly blocksWritten: number;
  /** the phase is complete (and, for 'full', durable: the restore is restartable from here) */
  readonly phaseDone: boolean;
}

export interface RestoreResult {
  /** DSID the restored blocks reflect */
  readonly dsid: Dsid;
  /** input paths applied in this run, in apply order */
  readonly applied: readonly string[];
  /** true when this run continued an interrupted restore */
  readonly resumed: boolean;
  /** an offline full save alone: a conventional restore */
  readonly conventional: boolean;
  readonly blocksWritten: number;
}

/**
 * Restore delta: writes a full save and the consecutive deltas (with DSIMs) after it straight into
 * a block database, newest image winning. Inputs are checked (DSID rules, dbid and geometry against
 * the target) before any block is read or written.
 *
 * Restart: the plan and its progress are kept in `restore-restart.json` in the target (written
 * atomically). The full save is applied first and flushed; from then on an interrupted restore can
 * be resubmitted WITHOUT the full save and continues with the deltas only (re-applying deltas is
 * idempotent because each block gets its newest image). Resubmitting with the full save starts over.
 *
 * Shadow: a full restore into a shadow records its status (`restore-status.json`); later delta
 * restores with `shadow: true` need no full save and must continue that status exactly.
 */
export async function restoreDelta(req: RestoreRequest): Promise<RestoreResult> {
  const inputs = await loadInputs(req.inputs);
  checkSameShape(inputs, 'RESTORE_INPUT_INVALID');
  const files = normalizeFiles(req.files);
  const hasFull = inputs.some((i) => i.header.kind === 'full');
  const exists = BlockDatabase.exists(req.target);
  const restart = exists ? readRestartState(req.target) : null;

  let plan: PlannedInput[];
  let ordered: InputSet[];
  let state: RestartState;
  let resumed = false;
  let conventional = false;

  if (restart && !hasFull) {
    // Continue an interrupted restore with the inputs not yet applied.
    resumed = true;
    const baseDone = restart.plan.length > 0 && restart.applied >= 1;
    if (!baseDone && !(restart.shadow && restart.after))
      throw new MergeError(
        'RESTART_IMPOSSIBLE',
        'the interrupted restore had not finished restoring its full save: repeat it with the full save',
        req.inputs,
      );
    if (!sameFiles(restart.files, files) || restart.includeGcb !== !!req.includeGcb)
      throw new MergeError('RESTART_IMPOSSIBLE', 'files restriction differs from the interrupted restore', req.inputs);
    const remaining = restart.plan.slice(restart.applied);
    const given = new Map(inputs.map((i) => [identityOf(i.descriptor), i]));
    const missing = remaining.filter((p) => !given.has(p.identity));
    const extra = inputs.filter((i) => !remaining.some((p) => p.identity === identityOf(i.descriptor)));
    if (missing.length || extra.length)
      throw new MergeError(
        'RESTART_IMPOSSIBLE',
        `resubmit exactly the inputs not yet applied (${remaining.map((p) => p.descriptor.name).join(', ')})` +
          (missing.length ? `; missing: ${missing.map((p) => p.descriptor.name).join(', ')}` : '') +
          (extra.length ? `; not expected: ${extra.map((i) => i.path).join(', ')}` : ''),
        [...missing.map((p) => p.descriptor.name), ...extra.map((i) => i.path)],
      );
    plan = [...restart.plan];
    ordered = remaining.map((p) => given.get(p.identity) as InputSet);
    state = restart;
  } else {
    let after: Dsid | undefined;
    if (!hasFull && req.shadow) {
      if (!exists)
        throw new MergeError('NOT_FOUND', `shadow database ${req.target} does not exist: restore a full save into it first`);
      const status = readRestoreStatus(req.target);
      if (!status || !status.shadow)
        throw new MergeError(
          'RESTORE_INPUT_INVALID',
          `${req.target} is not an initialized shadow database (no complete full restore recorded, or it was changed since)`,
        );
      if (status.stamp !== undefined && status.stamp !== areaStamp(req.target))
        throw new MergeError(
          'RESTORE_INPUT_INVALID',
          `shadow database ${req.target} was changed since its last restore (an update nucleus or utility ran on it): restore a full save first`,
        );
      after = status.dsid;
    }
    const accepted = validateRestoreDelta(
      inputs.map((i) => i.descriptor),
      { shadow: !!req.shadow, after },
    );
    conventional = accepted.conventional;
    ordered = inPlanOrder(inputs, accepted.inputs);
    plan = ordered.map((i) => ({ descriptor: i.descriptor, identity: identityOf(i.descriptor) }));
    state = {
      version: 1,
      shadow: !!req.shadow,
      files,
      includeGcb: !!req.includeGcb,
      after: after ?? null,
      plan,
      applied: 0,
    };
  }

  const first = inputs[0].header;
  const only = files ? fileRanges(first.geometry, files, !!req.includeGcb) : null;
  let db: BlockDatabase;
  if (exists) {
    db = BlockDatabase.open(req.target);
    if (db.dbid !== first.dbid || !geometryEquals(db.geometry, first.geometry)) {
      db.close();
      throw new MergeError(
        'RESTORE_INPUT_INVALID',
        `target ${req.target} (dbid ${db.dbid}) has another dbid or geometry than the inputs (dbid ${first.dbid})`,
        req.inputs,
      );
    }
  } else {
    if (!hasFull) throw new MergeError('NOT_FOUND', `no database at ${req.target} and no full save to create it from`);
    db = BlockDatabase.create(req.target, { dbid: first.dbid, geometry: first.geometry });
  }

  let blocksWritten = 0;
  try {
    removeStateFile(req.target, STATUS_FILE);
    writeRestartState(req.target, state);
    checkAbort(req.signal);
    let rest = ordered;
    if (!resumed && rest[0]?.header.kind === 'full') {
      // Phase 1: the full save alone, then a durable checkpoint: from here the restore is restartable.
      blocksWritten += await applyMerged(db, [rest[0]], only, req, 'full');
      db.flush();
      state = { ...state, applied: 1 };
      writeRestartState(req.target, state);
      req.onProgress?.({ phase: 'full', blocksWritten, phaseDone: true });
      rest = rest.slice(1);
    }
    // Phase 2: all deltas and DSIMs in one k-way pass, each block written once with its newest image.
    if (rest.length > 0) {
      const before = blocksWritten;
      blocksWritten += await applyMerged(db, rest, only, req, 'deltas', before);
      req.onProgress?.({ phase: 'deltas', blocksWritten, phaseDone: true });
    }
    db.flush();
    const dsid = deriveMergedDsid(plan.filter((p) => p.descriptor.kind === 'full' || p.descriptor.kind === 'delta').map((p) => p.descriptor.dsid));
    // A shadow's status: the DSID its whole contents reflect (not known after a restricted restore).
    if (!files) writeRestoreStatus(req.target, { version: 1, dsid, shadow: state.shadow, stamp: areaStamp(req.target) });
    removeStateFile(req.target, RESTART_FILE);
    return { dsid, applied: ordered.map((i) => i.path), resumed, conventional, blocksWritten };
  } finally {
    db.close();
  }
}

/** Writes the k-way merge of `sets` (oldest first) into `db`, skipping blocks outside `only`. */
async function applyMerged(
  db: BlockDatabase,
  sets: readonly InputSet[],
  only: readonly BlockRange[] | null,
  req: RestoreRequest,
  phase: RestoreProgress['phase'],
  base = 0,
): Promise<number> {
  const readers: DataSetReader[] = [];
  let n = 0;
  checkAbort(req.signal);
  try {
    for (const s of sets) readers.push(await DataSetReader.open(s.path, req.reader));
    const merge = await KWayMerge.start(readers);
    // Consecutive blocks are gathered and written with one pwrite. Images are copied because the
    // reader's buffer moves on; a run is capped so memory stays bounded.
    const run = new RunWriter(db);
    for (;;) {
      let r = merge.tryNext();
      if (r === undefined) r = await merge.next();
      if (!r) break;
      if (only && !rangesContain(only, r.area, r.rabn)) continue;
      run.add(r);
      if (++n % 4096 === 0) {
        checkAbort(req.signal);
        req.onProgress?.({ phase, blocksWritten: base + n, phaseDone: false });
      }
    }
    run.flush();
    return n;
  } finally {
    for (const r of readers) await r.close();
  }
}

const RUN_BYTES = 1 << 20;

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MergeError('INTERRUPTED', 'stopped on request; resubmit without the full save to resume');
}

class RunWriter {
  private buf = Buffer.allocUnsafe(RUN_BYTES);
  private used = 0;
  private area: SaveRecord['area'] = 'ASSO';
  private from = 0;
  private next = 0;

  constructor(private readonly db: BlockDatabase) {}

  add(r: SaveRecord): void {
    const len = r.image.length;
    if (this.used > 0 && (r.area !== this.area || r.rabn !== this.next || this.used + len > this.buf.length)) this.flush();
    if (this.used === 0) {
      this.area = r.area;
      this.from = r.rabn;
      if (len > this.buf.length) this.buf = Buffer.allocUnsafe(len);
    }
    this.buf.set(r.image, this.used);
    this.used += len;
    this.next = r.rabn + 1;
  }

  flush(): void {
    if (this.used === 0) return;
    this.db.writeBlocks(this.area, this.from, this.buf.subarray(0, this.used));
    this.used = 0;
  }
}

function normalizeFiles(files: readonly number[] | undefined): number[] | null {
  if (files === undefined) return null;
  if (!Array.isArray(files) || files.length === 0 || files.some((f) => !Number.isInteger(f) || f < 1))
    throw new MergeError('VALIDATION', 'files must be a non-empty list of positive file numbers');
  return [...new Set(files)].sort((a, b) => a - b);
}

function sameFiles(a: readonly number[] | null, b: readonly number[] | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
