import { CodedError } from '@deltaflow/core';

/** Errors of the service wiring. Infrastructure errors say whether a retry can help. */
export type ServiceKitErrorCode = 'CONFIG' | 'VALIDATION' | 'KAFKA';

export class ServiceKitError extends CodedError<ServiceKitErrorCode> {
  constructor(code: ServiceKitErrorCode, message: string, retriable = false) {
    super(code, message, { retriable });
  }
}

/**
 * Thrown by a handler (or a decoder) when a record can never be accepted: the record goes
 * to the topic's dead-letter topic with this reason, its offset is committed, and no state
 * changes. Any other error is treated as transient: the record is retried, never skipped.
 */
export class RejectedRecord extends CodedError {
  constructor(
    code: string,
    message: string,
    readonly field?: string,
  ) {
    super(code, message);
  }
}

/**
 * What a consumer does with a record whose handling threw:
 * - 'reject': the record is bad and always will be (a contract or domain rule says so): it goes to
 *   the dead-letter topic with the reason and is committed past;
 * - 'retry': the fault is elsewhere and passes (the broker, the database, the disk): the record is
 *   handled again, never skipped;
 * - 'stop': a bug in Deltaflow (a TypeError, Node's own ERR_* program errors, a decider invariant):
 *   dead-lettering would hide it and retrying cannot help; the service stops and says why.
 */
export type Disposition = 'reject' | 'retry' | 'stop';

/** Deltaflow codes that mean "this program is wrong", whichever library throws them. */
const BUG_CODES = new Set(['INTERNAL', 'INVARIANT', 'BUG']);

export function dispositionOf(err: unknown): Disposition {
  if (err instanceof RejectedRecord) return 'reject';
  const e = err as { code?: unknown; retriable?: unknown; name?: unknown; syscall?: unknown; errno?: unknown } | null;
  if (e === null || typeof e !== 'object') return 'stop'; // a thrown non-object is a bug
  if (err instanceof TypeError || err instanceof ReferenceError || err instanceof SyntaxError) return 'stop';
  if (typeof e.code !== 'string') return err instanceof RangeError ? 'stop' : 'retry'; // uncoded: a driver's transient fault
  if (e.retriable === true) return 'retry';
  // Node system errors (ECONNRESET, ENOSPC, ...) carry string codes but are transient
  if (e.syscall !== undefined || e.errno !== undefined) return 'retry';
  if (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) return 'retry';
  // Node's own program errors (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE, ...) are bugs
  if (e.code.startsWith('ERR_')) return 'stop';
  // PostgreSQL errors (pg's DatabaseError, TypeORM's QueryFailedError) carry the SQLSTATE as
  // a string code. A database fault (connection lost, serialization failure, deadlock, disk
  // full, lock timeout, a unique violation racing another instance) is not the record's
  // fault: retry. Only class 22 (data exception: the record's values do not fit) is permanent.
  if (isDatabaseError(e as { code: string })) return e.code.startsWith('22') ? 'reject' : 'retry';
  if (BUG_CODES.has(e.code)) return 'stop';
  // contract decoding errors and domain rule errors: permanent
  return 'reject';
}

/** True when an error means "this record is bad", as opposed to "try again later" or "a bug". */
export function isRejection(err: unknown): err is { code: string; message: string; field?: string } {
  return dispositionOf(err) === 'reject';
}
function isDatabaseError(e: { code: string; name?: unknown }): boolean {
  const x = e as { name?: unknown; severity?: unknown; routine?: unknown; driverError?: unknown };
  if (x.name === 'QueryFailedError' || x.driverError !== undefined) return true;
  return /^[0-9A-Z]{5}$/.test(e.code) && (x.severity !== undefined || x.routine !== undefined || x.name === 'DatabaseError');
}
