import { CodedError } from '@deltaflow/core';

/** Errors of the streaming client (writer and reader of client files). */
export type SovClientErrorCode = 'ILLEGAL_STATE' | 'REFUSED' | 'ABORTED' | 'CONFLICT' | 'KAFKA' | 'TIMEOUT' | 'NOT_FOUND' | 'CATALOG';

export class SovClientError extends CodedError<SovClientErrorCode> {
  constructor(code: SovClientErrorCode, message: string, retriable = false) {
    super(code, message, { retriable });
  }
}
