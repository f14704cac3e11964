/** Errors of the embedded PostgreSQL launcher; `retriable` says whether trying again may help. */
export type EmbeddedPostgresErrorCode =
  | 'BINARIES_NOT_FOUND'
  | 'USER_SETUP_FAILED'
  | 'DATA_DIR_INVALID'
  | 'INITDB_FAILED'
  | 'CREDENTIALS_INVALID'
  | 'PROVISION_FAILED'
  | 'START_FAILED'
  | 'PORT_IN_USE'
  | 'STOP_FAILED';

export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';

  constructor(
    readonly code: EmbeddedPostgresErrorCode,
    message: string,
    readonly retriable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
