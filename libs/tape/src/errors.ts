import { CodedError } from '@deltaflow/core';

/** Error codes of the tape library. */
export type TapeErrorCode = 'VALIDATION' | 'CORRUPT_DATA' | 'AUTH_FAILED' | 'KEY_REFUSED' | 'ILLEGAL_STATE' | 'NOT_FOUND' | 'IO' | SovRejectionCode;

/** Why the stream decider refuses a command or a superblock (the record goes to its dead-letter topic with it). */
export type SovRejectionCode =
  | 'UNKNOWN_STREAM'
  | 'UNKNOWN_DEVICE'
  | 'UNKNOWN_CLIENT_FILE'
  | 'CLIENT_FILE_CLOSED'
  | 'CLIENT_FILE_ABORTED'
  | 'OUT_OF_SEQUENCE'
  | 'CONFLICT'
  | 'NOT_EXPIRABLE'
  /** encryption asked where no operator key is configured */
  | 'NO_OPERATOR_KEY';

/** Base of every tape error: a string code, and whether retrying the same call may succeed. */
export abstract class TapeError extends CodedError<TapeErrorCode> {}

/** Bad input: a name, size or option that is not allowed (nothing was written). */
export class TapeValidationError extends TapeError {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super('VALIDATION', message);
  }
}

/** Where a corrupt or truncated structure was found. */
export interface TapePosition {
  readonly path?: string;
  readonly volser?: string;
  /** device position: byte offset on a file device, logical block on a tape device */
  readonly offset: number;
}

/** Bytes on a volume (or handed in) that fail their checks: bad magic, CRC mismatch, truncation, wrong position. */
export class TapeCorruptError extends TapeError {
  constructor(
    message: string,
    readonly position?: TapePosition,
  ) {
    super('CORRUPT_DATA', position ? `${message} (${describePosition(position)})` : message);
  }
}

/**
 * A superblock that fails AES-256-GCM authentication: another client file's, another sequence
 * number's, altered, or read with the wrong data key. Never decrypted output.
 */
export class TapeAuthError extends TapeError {
  constructor(
    message: string,
    readonly position?: TapePosition,
  ) {
    super('AUTH_FAILED', position ? `${message} (${describePosition(position)})` : message);
  }
}

/** The operator key offered cannot unwrap a client file's data key (wrong key, or none given). */
export class TapeKeyError extends TapeError {
  constructor(
    message: string,
    readonly keyId?: string,
  ) {
    super('KEY_REFUSED', message);
  }
}

/** An operation the object's state does not allow (append after close, concurrent misuse). */
export class TapeStateError extends TapeError {
  constructor(message: string) {
    super('ILLEGAL_STATE', message);
  }
}

/** A volume file that does not exist. */
export class TapeNotFoundError extends TapeError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super('NOT_FOUND', message);
  }
}

/** The file system failed (disk full, I/O error); the operation may succeed when retried. */
export class TapeIoError extends TapeError {
  constructor(message: string, cause?: unknown) {
    super('IO', message, { cause, retriable: true });
  }
}

/**
 * A command or superblock the stream decider refuses: unknown stream, device or client file, a
 * closed or aborted client file, a superblock out of sequence, a conflicting redefinition. Never
 * retriable: the service dead-letters the record with this code and reason.
 */
export class SovRejectedError extends TapeError {
  constructor(
    code: SovRejectionCode,
    message: string,
    readonly field?: string,
  ) {
    super(code, message);
  }
}

function describePosition(p: TapePosition): string {
  return [p.volser && `volser ${p.volser}`, p.path && `file ${p.path}`, `offset ${p.offset}`].filter(Boolean).join(', ');
}
