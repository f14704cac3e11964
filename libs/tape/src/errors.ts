/** Error codes of the tape library. */
export type TapeErrorCode = 'VALIDATION' | 'CORRUPT_DATA' | 'AUTH_FAILED' | 'KEY_REFUSED' | 'ILLEGAL_STATE' | 'NOT_FOUND' | 'IO';

/** Base of every tape error: a string code, and whether retrying the same call may succeed. */
export abstract class TapeError extends Error {
  abstract readonly code: TapeErrorCode;
  readonly retriable: boolean = false;
}

/** Bad input: a name, size or option that is not allowed (nothing was written). */
export class TapeValidationError extends TapeError {
  readonly code = 'VALIDATION' as const;
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'TapeValidationError';
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
  readonly code = 'CORRUPT_DATA' as const;
  constructor(
    message: string,
    readonly position?: TapePosition,
  ) {
    super(position ? `${message} (${describePosition(position)})` : message);
    this.name = 'TapeCorruptError';
  }
}

/**
 * A superblock that fails AES-256-GCM authentication: another client file's, another sequence
 * number's, altered, or read with the wrong data key. Never decrypted output.
 */
export class TapeAuthError extends TapeError {
  readonly code = 'AUTH_FAILED' as const;
  constructor(
    message: string,
    readonly position?: TapePosition,
  ) {
    super(position ? `${message} (${describePosition(position)})` : message);
    this.name = 'TapeAuthError';
  }
}

/** The operator key offered cannot unwrap a client file's data key (wrong key, or none given). */
export class TapeKeyError extends TapeError {
  readonly code = 'KEY_REFUSED' as const;
  constructor(
    message: string,
    readonly keyId?: string,
  ) {
    super(message);
    this.name = 'TapeKeyError';
  }
}

/** An operation the object's state does not allow (append after close, concurrent misuse). */
export class TapeStateError extends TapeError {
  readonly code = 'ILLEGAL_STATE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'TapeStateError';
  }
}

/** A volume file that does not exist. */
export class TapeNotFoundError extends TapeError {
  readonly code = 'NOT_FOUND' as const;
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'TapeNotFoundError';
  }
}

/** The file system failed (disk full, I/O error); the operation may succeed when retried. */
export class TapeIoError extends TapeError {
  readonly code = 'IO' as const;
  override readonly retriable = true;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'TapeIoError';
  }
}

function describePosition(p: TapePosition): string {
  return [p.volser && `volser ${p.volser}`, p.path && `file ${p.path}`, `offset ${p.offset}`].filter(Boolean).join(', ');
}
