import type { Throttle } from '@deltaflow/core';
import { BlockDatabase, DatabaseLock, lockDatabase } from '@deltaflow/blockdb';
import { geometryEquals, rangesContain, type Area, type BlockRange, type Geometry } from '@deltaflow/blocks';
import { deriveMergedDsid, validateRestoreDelta } from '@deltaflow/dsid';
import type { Dsid } from '@deltaflow/dsid';
import type { ReaderOptions } from '@deltaflow/save-format';
import { MergeError } from './errors';
import { checkSameShape, fanInOf, inPlanOrder, InputSet, loadInputs } from './inputs';
import { PassProgress, runPass } from './pass';
import { RangeCollector, RunWriter } from './run-writer';
import { planScope, RestoreScope, ScopePlan, shiftedRabn } from './scope';
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
  /** paths of the input data sets (full save, deltas, DSIMs), in any order; any number */
  readonly inputs: readonly string[];
  /** directory of the target block database; created from the full save's header when missing */
  readonly target: string;
  /** the target is a shadow database: deltas may be applied without a full save */
  readonly shadow?: boolean;
  /** restrict the restore (GCB, FILE, FMOVE); the whole database when absent. See RestoreScope. */
  readonly scope?: RestoreScope;
  /** most inputs one pass reads at once (default 32); more deltas are applied in consecutive groups */
  readonly fanIn?: number;
  /** apply ADASAV's eight-delta limit (DSID rule AT_MOST_EIGHT_DELTAS) */
  readonly seedLimits?: boolean;
  readonly reader?: ReaderOptions;
  /** holds the input bytes read to a rate (shared by every operation given the same Throttle) */
  readonly throttle?: Throttle;
  /** stops the restore between blocks (MergeError INTERRUPTED); the restart state stays for a resume */
  readonly signal?: AbortSignal;
  /** called every `progressInterval` blocks written and at the end of each phase */
  readonly onProgress?: (p: RestoreProgress) => void;
  /** blocks between progress calls (default 4096) */
  readonly progressInterval?: number;
}

/** Progress of a restore: phase 'full' writes the full save, phase 'deltas' the merged deltas and DSIMs. */
export interface RestoreProgress {
  readonly phase: 'full' | 'deltas';
  /** blocks written by this run so far */
  readonly blocksWritten: number;
  /** input bytes read by this run so far, of bytesTotal (the sizes of this run's inputs) */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /**
   * The phase is complete. For 'full': its blocks are written and their flush is under way; the
   * checkpoint that makes the restore restartable without the full save follows as soon as the
   * flush completes (in the background of phase 2, and before the restore returns or fails).
   */
  readonly phaseDone: boolean;
}

export interface RestoreResult {
  /** DSID the restored blocks reflect (for a shadow apply: the whole shadow's, e.g. 1/0-3) */
  readonly dsid: Dsid;
  /** input paths applied in this run, in apply order */
  readonly applied: readonly string[];
  /** true when this run continued an interrupted restore */
  readonly resumed: boolean;
  /** an offline full save alone: a conventional restore */
  readonly conventional: boolean;
  /** blocks written by this run */
  readonly blocksWritten: number;
  /** the whole target's digest afterwards, as BlockDatabase.digest computes it (also after a scoped restore) */
  readonly digest: string;
  /** every block the whole restore wrote (resumed runs included), target addresses, sorted and joined */
  readonly ranges: readonly BlockRange[];
  /** the newest input's end LSN: the LSN the restored blocks stand at */
  readonly lsn: number;
  /** the target's geometry afterwards (differs from the inputs' after an FMOVE) */
  readonly geometry: Geometry;
}

/**
 * Restore delta: writes a full save and the consecutive deltas (with DSIMs) after it straight into
 * a block database, newest image winning. Inputs are checked (DSID rules, dbid and geometry against
 * the target, scope) before any block is read or written; the target is locked (lockDatabase) for
 * the whole restore, so no other Deltaflow update touches it meanwhile.
 *
 * Restart (seed: "If a delta restore operation is interrupted, it can be restarted, provided the
 * full save has already been restored"): the plan and its progress are kept in
 * `restore-restart.json` in the target (written atomically). The full save is applied first and
 * flushed (phase 1); from then on an interrupted restore can be resubmitted WITHOUT the full save
 * and continues with the deltas (phase 2, one k-way pass per `fanIn` inputs; re-applying is
 * idempotent because each block gets its newest image). Resubmitting with the full save starts over.
 *
 * Shadow: a full restore into a shadow records its status (`restore-status.json`: DSID, LSN, area
 * stamp); later delta restores with `shadow: true` need no full save and must continue that status
 * exactly, and are refused once anything else wrote to the shadow.
 */
export async function restoreDelta(req: RestoreRequest): Promise<RestoreResult> {
  const fanIn = fanInOf(req.fanIn);
  const interval = req.progressInterval ?? 4096;
  if (!Number.isInteger(interval) || interval < 1) throw new MergeError('VALIDATION', 'progressInterval must be a positive integer');
  const { inputs, scope } = await loadChecked(req);

  // An existing target is locked before its state is read; a new one once the request is accepted.
  let lock: DatabaseLock | null = BlockDatabase.exists(req.target) ? await lockDatabase(req.target, 'a restore') : null;
  try {
    const exists = BlockDatabase.exists(req.target);
    const decided = decide(req, inputs, scope, exists);
    if (!lock) {
      lock = await lockDatabase(req.target, 'a restore');
      if (BlockDatabase.exists(req.target))
        throw new MergeError('RESTORE_INPUT_INVALID', `a database appeared at ${req.target} while the restore was being checked: submit it again`);
    }
    return await run(req, inputs, scope, decided, exists, fanIn, interval);
  } finally {
    await lock?.release();
  }
}

async function loadChecked(req: RestoreRequest): Promise<{ inputs: InputSet[]; scope: ScopePlan }> {
  const inputs = await loadInputs(req.inputs);
  checkSameShape(inputs, 'RESTORE_INPUT_INVALID');
  const scope = planScope(inputs[0].header.geometry, req.scope);
  if (req.shadow && scope.scope)
    throw new MergeError('VALIDATION', 'a shadow database is restored whole: no GCB, FILE or FMOVE scope with shadow');
  return { inputs, scope };
}

/** What a restore would do, as restoreDelta decides it before writing. */
export interface RestoreCheck {
  /** the run would continue an interrupted restore (inputs: those not yet applied) */
  readonly resumed: boolean;
  /** an offline full save alone */
  readonly conventional: boolean;
  /** the inputs the run would apply, in apply order */
  readonly applies: readonly string[];
}

/**
 * Every check restoreDelta makes before it writes (inputs, DSID rules, target, shadow status,
 * resume plan), and nothing else: for a service that accepts a restore before it runs it. The
 * target may still change before the restore runs; restoreDelta checks again under its lock.
 */
export async function checkRestore(req: RestoreRequest): Promise<RestoreCheck> {
  const { inputs, scope } = await loadChecked(req);
  const exists = BlockDatabase.exists(req.target);
  const d = decide(req, inputs, scope, exists);
  if (exists) {
    const db = BlockDatabase.open(req.target, { readOnly: true });
    try {
      checkTarget(req, db, inputs[0].header, scope);
    } finally {
      db.close();
    }
  } else if (!inputs.some((i) => i.header.kind === 'full')) {
    throw new MergeError('NOT_FOUND', `no database at ${req.target} and no full save to create it from`);
  }
  return { resumed: d.resumed, conventional: d.conventional, applies: d.ordered.map((i) => i.path) };
}

function checkTarget(req: RestoreRequest, db: BlockDatabase, first: InputSet['header'], scope: ScopePlan): void {
  const fits = geometryEquals(db.geometry, first.geometry) || geometryEquals(db.geometry, scope.geometry);
  if (db.dbid !== first.dbid || !fits)
    throw new MergeError(
      'RESTORE_INPUT_INVALID',
      `target ${req.target} (dbid ${db.dbid}) has another dbid or geometry than the inputs (dbid ${first.dbid})`,
      req.inputs,
      'SAME_DATABASE',
    );
}

interface Decision {
  readonly plan: readonly PlannedInput[];
  /** the inputs this run applies, in apply order */
  readonly ordered: readonly InputSet[];
  readonly state: RestartState;
  readonly resumed: boolean;
  readonly conventional: boolean;
}

/** Checks the request against the target's state; decides what this run applies. Writes nothing. */
function decide(req: RestoreRequest, inputs: readonly InputSet[], scope: ScopePlan, exists: boolean): Decision {
  const hasFull = inputs.some((i) => i.header.kind === 'full');
  const restart = exists ? readRestartState(req.target) : null;
  if (restart && !hasFull) {
    // Continue an interrupted restore with the inputs not yet applied.
    const baseDone = restart.plan.length > 0 && restart.applied >= 1;
    if (!baseDone && !(restart.shadow && restart.after))
      throw new MergeError(
        'RESTART_IMPOSSIBLE',
        'the interrupted restore had not finished restoring its full save: repeat it with the full save',
        req.inputs,
      );
    if (JSON.stringify(restart.scope) !== JSON.stringify(scope.scope) || restart.shadow !== !!req.shadow)
      throw new MergeError('RESTART_IMPOSSIBLE', 'scope or shadow differs from the interrupted restore', req.inputs);
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
    return {
      plan: restart.plan,
      ordered: remaining.map((p) => given.get(p.identity) as InputSet),
      state: restart,
      resumed: true,
      conventional: false,
    };
  }
  let after: Dsid | undefined;
  let afterLsn: number | undefined;
  if (!hasFull && req.shadow) {
    if (!exists)
      throw new MergeError('NOT_FOUND', `shadow database ${req.target} does not exist: restore a full save into it first`);
    const status = readRestoreStatus(req.target);
    if (!status || !status.shadow)
      throw new MergeError(
        'RESTORE_INPUT_INVALID',
        `${req.target} is not an initialized shadow database (no complete full restore recorded, or it was changed since)`,
        [],
        'SHADOW_NOT_INITIALIZED',
      );
    if (status.stamp !== undefined && status.stamp !== areaStamp(req.target))
      throw new MergeError(
        'RESTORE_INPUT_INVALID',
        `shadow database ${req.target} was changed since its last restore (an update nucleus or utility ran on it): restore a full save first`,
        [],
        'SHADOW_CHANGED',
      );
    if (status.regeneratingFrom !== undefined)
      throw new MergeError('RESTORE_INPUT_INVALID', `shadow database ${req.target} has an unfinished REGENERATE (from LSN ${status.regeneratingFrom}): run it again first`, [], 'SHADOW_REGENERATING');
    after = status.dsid;
    afterLsn = status.lsn ?? 0;
    const newest = Math.max(...inputs.map((i) => i.header.endLsn));
    if (newest < afterLsn)
      throw new MergeError(
        'RESTORE_INPUT_INVALID',
        `shadow database ${req.target} stands at LSN ${afterLsn} (REGENERATE brought it there), beyond these inputs (end LSN ${newest}): restore a full save first`,
        req.inputs,
        'SHADOW_AHEAD',
      );
  }
  const accepted = validateRestoreDelta(
    inputs.map((i) => i.descriptor),
    { shadow: !!req.shadow, after, seedLimits: req.seedLimits },
  );
  const ordered = inPlanOrder(inputs, accepted.inputs);
  const plan = ordered.map((i) => ({ descriptor: i.descriptor, identity: identityOf(i.descriptor), endLsn: i.header.endLsn }));
  return {
    plan,
    ordered,
    state: { version: 2, shadow: !!req.shadow, scope: scope.scope, after: after ?? null, afterLsn, plan, applied: 0, written: [] },
    resumed: false,
    conventional: accepted.conventional,
  };
}

async function run(
  req: RestoreRequest,
  inputs: readonly InputSet[],
  scope: ScopePlan,
  d: Decision,
  exists: boolean,
  fanIn: number,
  interval: number,
): Promise<RestoreResult> {
  const first = inputs[0].header;
  let db: BlockDatabase;
  if (exists) {
    db = BlockDatabase.open(req.target);
    try {
      checkTarget(req, db, first, scope);
    } catch (e) {
      db.close();
      throw e;
    }
  } else {
    const hasFull = inputs.some((i) => i.header.kind === 'full');
    if (!hasFull) throw new MergeError('NOT_FOUND', `no database at ${req.target} and no full save to create it from`);
    db = BlockDatabase.create(req.target, { dbid: first.dbid, geometry: first.geometry });
  }

  let state = d.state;
  const written = new RangeCollector(state.written);
  let blocksWritten = 0;
  const progress = new PassProgress(
    d.ordered.reduce((n, i) => n + i.size, 0),
    undefined,
  );
  let phase: RestoreProgress['phase'] = 'full';
  const report = (phaseDone: boolean) =>
    req.onProgress?.({ phase, blocksWritten, bytesDone: Math.min(progress.done, progress.total), bytesTotal: progress.total, phaseDone });
  // Writeback is started every 64 MiB (one fdatasync on the thread pool at a time), so the disk
  // works while the restore goes on and the flushes at the checkpoints find little left to do.
  let background: Promise<void> | null = null;
  let sinceFlush = 0;
  const flushEvery = Math.max(1, Math.floor((64 << 20) / Math.max(first.geometry.asso.blockSize, first.geometry.data.blockSize)));
  const apply = (sets: readonly InputSet[]) =>
    applyPass(
      db,
      sets,
      scope,
      written,
      req,
      progress,
      () => {
        if (++blocksWritten % interval === 0) report(false);
        if (++sinceFlush >= flushEvery && !background) {
          sinceFlush = 0;
          background = db.flushAsync().finally(() => (background = null));
          background.catch(() => undefined);
        }
      },
    );

  // Checkpoints wait for the flush of what they cover, in the background of the next writes.
  let checkpoint: Promise<void> = Promise.resolve();
  const checkpointAfterFlush = (next: RestartState) => {
    const flushed = db.flushAsync();
    checkpoint = Promise.all([checkpoint, flushed]).then(() => writeRestartState(req.target, next));
    checkpoint.catch(() => undefined); // surfaced where it is awaited
  };
  try {
    removeStateFile(req.target, STATUS_FILE);
    writeRestartState(req.target, state);
    if (req.signal?.aborted) throw interrupted();
    let rest = d.ordered;
    if (!d.resumed && rest[0]?.header.kind === 'full') {
      // Phase 1: the full save alone, then a durable checkpoint: from here the restore is restartable.
      // A restore of the whole database formats it first: blocks the save does not hold (free
      // space) are zero afterwards, as in the saved database, whatever the target held before.
      if (scope.scope === null && exists) db.format();
      await apply([rest[0]]);
      state = { ...state, applied: 1, written: written.ranges() };
      checkpointAfterFlush(state);
      report(true);
      rest = rest.slice(1);
    }
    // Phase 2: the deltas and DSIMs, each group of fanIn inputs in one k-way pass (each block
    // written once per group with its newest image), a checkpoint after each group but the last.
    phase = 'deltas';
    for (let g = 0; g < rest.length; g += fanIn) {
      const group = rest.slice(g, g + fanIn);
      await apply(group);
      if (g + fanIn < rest.length) {
        state = { ...state, applied: state.applied + group.length, written: written.ranges() };
        checkpointAfterFlush(state);
      }
    }
    if (rest.length > 0) report(true);
    // The last flush runs while a worker thread reads the database back and hashes it.
    await background;
    const flushed = db.flushAsync();
    flushed.catch(() => undefined);
    const digest = await db.digestAsync(scope.geometry);
    await flushed;
    await checkpoint;
    if (!geometryEquals(db.geometry, scope.geometry)) db.setGeometry(scope.geometry);
    const saves = d.plan.filter((p) => p.descriptor.kind === 'full' || p.descriptor.kind === 'delta').map((p) => p.descriptor.dsid);
    const dsid = deriveMergedDsid(state.after ? [state.after, ...saves] : saves);
    const lsn = Math.max(state.afterLsn ?? 0, ...d.plan.map((p) => p.endLsn ?? 0));
    // A shadow's status: the DSID its whole contents reflect (not known after a restricted restore).
    if (!scope.scope) writeRestoreStatus(req.target, { version: 1, dsid, shadow: state.shadow, stamp: areaStamp(req.target), lsn });
    removeStateFile(req.target, RESTART_FILE);
    return {
      dsid,
      applied: d.ordered.map((i) => i.path),
      resumed: d.resumed,
      conventional: d.conventional,
      blocksWritten,
      digest,
      ranges: written.ranges(),
      lsn,
      geometry: db.geometry,
    };
  } catch (e) {
    // A checkpoint whose flush is under way is still written: the resume then needs less.
    await checkpoint.catch(() => undefined);
    await (background as Promise<void> | null)?.catch(() => undefined);
    throw e;
  } finally {
    db.close();
  }
}

function interrupted(): MergeError {
  return new MergeError('INTERRUPTED', 'stopped on request; resubmit without the full save to resume');
}

/** Writes the k-way merge of `sets` (oldest first) into `db`, restricted and moved as `scope` says. */
async function applyPass(
  db: BlockDatabase,
  sets: readonly InputSet[],
  scope: ScopePlan,
  written: RangeCollector,
  req: RestoreRequest,
  progress: PassProgress,
  onBlock: () => void,
): Promise<void> {
  const out = new RunWriter(db, written, req.reader?.io ?? 'sync');
  const only = scope.only;
  const shifts = scope.shifts;
  try {
    await runPass(
      sets.map((s) => s.path),
      (r) => {
        if (only && !rangesContain(only, r.area, r.rabn)) return;
        const rabn = shifts.length > 0 && r.area === 'DATA' ? shiftedRabn(shifts, r.rabn) : r.rabn;
        onBlock();
        return out.add(r.area as Area, rabn, r.image);
      },
      { reader: req.reader, throttle: req.throttle, signal: req.signal, progress, interrupted: 'stopped on request; resubmit without the full save to resume' },
    );
    await out.flush();
  } finally {
    await out.settle();
  }
}
