/** Errors of the persistence layer. Infrastructure errors say whether a retry can help. */
import { CodedError } from '@deltaflow/core';
export type PersistenceErrorCode = 'VALIDATION' | 'MIGRATION' | 'CONCURRENCY';

export class PersistenceError extends CodedError<PersistenceErrorCode> {
  constructor(code: PersistenceErrorCode, message: string, retriable = false, options: { cause?: unknown } = {}) {
    super(code, message, { retriable, cause: options.cause });
  }
}
