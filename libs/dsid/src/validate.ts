import { derivedOutputKind, orderInputs, checkInputs, InputCheck } from './input-rules';
import { DataSetDescriptor, Dsid } from './dsid';
import { deriveMergedDsid } from './derive';

/** The accepted plan of a merge: output DSID and kind, inputs in apply order (oldest first, newest wins). */
export interface MergePlan {
  readonly output: Dsid;
  readonly outputKind: 'full' | 'delta';
  readonly inputs: DataSetDescriptor[];
}

/** Options every input check takes. */
export interface InputRuleOptions {
  /**
   * Apply ADASAV's limit of at most eight delta inputs (unloaded DSIMs counting as deltas), rule
   * AT_MOST_EIGHT_DELTAS. Off by default: Deltaflow takes any number of inputs.
   */
  readonly seedLimits?: boolean;
}

/**
 * Checks merge inputs against the Delta Save rules (seed: "Merging the SAVE Output", "Delta Save
 * Identifier", "Invalid Merges", "PLOG and DSIM") plus lineage, before any byte is read; throws
 * DsidRuleError (MERGE_INPUT_INVALID) naming the rule and the offending inputs. Inputs may come in
 * any order: they are returned sorted by DSID with each DSIM right after its online save. A copy
 * of the original DSIM (kind `original-dsim`) is accepted for any online save in the input (at
 * most one: a database has one DSIM); an unloaded DSIM counts as a delta.
 */
export function validateMerge(inputs: readonly DataSetDescriptor[], opts: InputRuleOptions = {}): MergePlan {
  const check: InputCheck = { code: 'MERGE_INPUT_INVALID', fullRequired: false, restore: false, seedLimits: opts.seedLimits };
  const saves = checkInputs(inputs, check);
  const ordered = orderInputs(inputs, saves);
  return {
    output: deriveMergedDsid(saves.map((s) => s.dsid)),
    outputKind: derivedOutputKind(saves),
    inputs: ordered,
  };
}

/** Options of a restore delta. */
export interface RestoreDeltaOptions extends InputRuleOptions {
  /** restoring into a shadow database: the full save may be omitted */
  readonly shadow: boolean;
  /**
   * The DSID the target database already reflects (a shadow's current status, or the full save
   * already restored by an interrupted restore). When given, the inputs must continue it: same full
   * number, no delta missing, same lineage; and the full save may be omitted.
   */
  readonly after?: Dsid;
}

/** The accepted plan of a restore delta. */
export interface RestoreDeltaPlan {
  readonly inputs: DataSetDescriptor[];
  /** true when the input is an offline full save alone: a conventional restore, no delta logic needed */
  readonly conventional: boolean;
}

/**
 * Checks restore-delta inputs (seed: "Restoring Delta Save Save Output", "Operating a Shadow
 * Database"): one full save unless restoring into a shadow (or continuing `after`), any number of
 * consecutive deltas (eight with `seedLimits`), DSIMs as for merge but an original DSIM only for
 * the last online save.
 * Throws DsidRuleError (RESTORE_INPUT_INVALID).
 */
export function validateRestoreDelta(inputs: readonly DataSetDescriptor[], opts: RestoreDeltaOptions): RestoreDeltaPlan {
  const check: InputCheck = {
    code: 'RESTORE_INPUT_INVALID',
    fullRequired: !opts.shadow && opts.after === undefined,
    restore: true,
    after: opts.after,
    seedLimits: opts.seedLimits,
  };
  const saves = checkInputs(inputs, check);
  const ordered = orderInputs(inputs, saves);
  const conventional = ordered.length === 1 && ordered[0].kind === 'full' && !ordered[0].online;
  return { inputs: ordered, conventional };
}

/**
 * Checks the inputs of a file unload (seed: ADAULD "from a full save tape together with 1 to 8
 * delta save tapes and optionally a DSIM data set"): the merge rules with a full save required
 * (FULL_REQUIRED, code MERGE_INPUT_INVALID). Returns the inputs in apply order and the DSID the
 * unloaded file reflects.
 */
export function validateUnload(inputs: readonly DataSetDescriptor[], opts: InputRuleOptions = {}): MergePlan {
  const check: InputCheck = {
    code: 'MERGE_INPUT_INVALID',
    fullRequired: true,
    restore: false,
    seedLimits: opts.seedLimits,
    fullRequiredMessage: 'a file unload needs the full save its deltas continue',
  };
  const saves = checkInputs(inputs, check);
  return { output: deriveMergedDsid(saves.map((s) => s.dsid)), outputKind: 'full', inputs: orderInputs(inputs, saves) };
}
