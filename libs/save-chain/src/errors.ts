/** Error codes of the save chain: why a save or DSIM command is refused. */
import { CodedError } from '@deltaflow/core';
export type SaveChainErrorCode =
  | 'VALIDATION'
  | 'ILLEGAL_STATE'
  | 'NUCLEUS_ACTIVE'
  | 'NUCLEUS_INACTIVE'
  | 'DSIM_IN_USE'
  | 'NO_FULL_SAVE'
  | 'SAVE_IN_PROGRESS'
  | 'DSIM_NOT_COMPLETE'
  | 'DSIM_FREE'
  | 'DSIM_NOT_UNLOADED'
  | 'SCHEDULE_EXISTS'
  | 'NO_SCHEDULE';

/** A save-chain or DSIM decision that cannot be taken; `code` is stable for callers. */
export class SaveChainError extends CodedError<SaveChainErrorCode> {}
