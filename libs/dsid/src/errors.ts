import { CodedError } from '@deltaflow/core';

/** Error codes of the DSID library: parse/shape problems, rejected merge or restore inputs, illegal chain commands. */
export type DsidErrorCode = 'VALIDATION' | 'MERGE_INPUT_INVALID' | 'RESTORE_INPUT_INVALID' | 'ILLEGAL_STATE';

/** A DSID (or lineage, or time stamp) text or value that is not well formed; `field` names the part that is wrong. */
export class DsidParseError extends CodedError<'VALIDATION'> {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super('VALIDATION', message);
  }
}

/** Stable ids of the merge / restore-delta input rules, so callers and dead-letter reasons can match on them. */
export type DsidRule =
  | 'NO_INPUT'
  | 'DSID_MALFORMED'
  | 'UNIQUE_NAMES'
  | 'SAME_DBID'
  | 'AT_MOST_ONE_FULL'
  | 'FULL_REQUIRED'
  /** retired as a default: ADASAV's eight-delta limit, checked only with the `seedLimits` option */
  | 'AT_MOST_EIGHT_DELTAS'
  | 'SAME_FULL_NUMBER'
  | 'ASCENDING_TIMESTAMPS'
  | 'CONTINUOUS_SEQUENCE'
  | 'ONLINE_SAVE_NEEDS_DSIM'
  | 'ONE_DSIM_PER_SAVE'
  | 'AT_MOST_ONE_ORIGINAL_DSIM'
  | 'DSIM_WITHOUT_ONLINE_SAVE'
  | 'ORIGINAL_DSIM_NOT_LAST_ONLINE_SAVE'
  | 'SAME_LINEAGE';

/** An input combination that the Delta Save rules reject; names the rule and the offending inputs. */
export class DsidRuleError extends CodedError<'MERGE_INPUT_INVALID' | 'RESTORE_INPUT_INVALID'> {
  constructor(
    code: 'MERGE_INPUT_INVALID' | 'RESTORE_INPUT_INVALID',
    readonly rule: DsidRule,
    readonly inputs: string[],
    message: string,
  ) {
    super(code, `${rule}: ${message}${inputs.length ? ` [${inputs.join(', ')}]` : ''}`);
  }
}

/** A DSID-chain command that the current chain state does not allow (e.g. a delta save before any full save). */
export class DsidStateError extends CodedError<'ILLEGAL_STATE'> {
  constructor(message: string) {
    super('ILLEGAL_STATE', message);
  }
}
