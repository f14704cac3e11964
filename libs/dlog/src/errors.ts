/**
 * Errors of the DLOG library. Every rejection is a DlogError with a string code so that
 * services can map it to a dead-letter reason or an operator message without parsing text.
 */
import { CodedError } from '@deltaflow/core';
export type DlogErrorCode =
  /** malformed input: bad RABN, unknown area or file, range outside an extent, bad config */
  | 'VALIDATION'
  /** a change or sync whose LSN is not above the last one seen and whose effect is not already recorded */
  | 'LSN_NOT_INCREASING'
  /** a capture was requested while another save's capture is still pending */
  | 'SAVE_IN_PROGRESS'
  /** Drop/Return for a save id that has no capture */
  | 'NOT_FOUND'
  /** a command that contradicts what already happened (e.g. Drop after Return of the same save) */
  | 'ILLEGAL_STATE'
  /** a capture at a sync point older than the last completed save */
  | 'SYNC_BEFORE_LAST_SAVE'
  /** a snapshot that does not decode into a valid DLOG state */
  | 'CORRUPT_DATA';

/** A rejected DLOG command or input; `details` carries machine-readable context. */
export class DlogError extends CodedError<DlogErrorCode> {
  constructor(
    code: DlogErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(code, `${code}: ${message}`);
  }
}
