/** Why a merge or restore was refused or stopped; `code` is stable. */
import { CodedError } from '@deltaflow/core';
export type MergeErrorCode =
  | 'VALIDATION' // bad request (duplicate input paths, bad scope, bad fanIn, options that do not combine)
  | 'FULL_REQUIRED' // mergeDataSets with requireFull, and no full save among the inputs
  | 'MERGE_INPUT_INVALID' // inputs that do not merge (geometry differs); DSID rules throw DsidRuleError instead
  | 'RESTORE_INPUT_INVALID' // inputs that do not fit the target (dbid/geometry, uninitialized or changed shadow, FMOVE onto another file)
  | 'RESTART_IMPOSSIBLE' // an interrupted restore cannot continue with these inputs: repeat it with the full save
  | 'NOT_FOUND' // target database missing and no full save to create it from
  | 'INTERRUPTED'; // stopped by the caller's AbortSignal (a restore can then be resumed)

/** Error thrown by @deltaflow/merge (besides DsidRuleError, SaveFormatError and BlockDbError from below). */
export class MergeError extends CodedError<MergeErrorCode> {
  constructor(
    code: MergeErrorCode,
    message: string,
    /** the inputs concerned, by name */
    readonly inputs: readonly string[] = [],
    /** the rule broken, when the refusal is one of the seed's rules about the target (e.g. SHADOW_CHANGED) */
    readonly rule?: string,
  ) {
    super(code, `${code}: ${message}${inputs.length ? ` [${inputs.join(', ')}]` : ''}`);
  }
}
