/** Errors of the persistence layer. Infrastructure errors say whether a retry can help. */
export type PersistenceErrorCode = 'VALIDATION' | 'MIGRATION' | 'CONCURRENCY';

export class PersistenceError extends Error {
  constructor(
    readonly code: PersistenceErrorCode,
    message: string,
    readonly retriable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PersistenceError';
  }
}
