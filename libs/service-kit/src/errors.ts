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

/** True when an error means "this record is bad", as opposed to "try again later". */
export function isRejection(err: unknown): err is { code: string; message: string; field?: string } {
  if (err instanceof RejectedRecord) return true;
  // Contract decoding errors and domain rule errors carry string codes and are permanent.
  // Node system errors (ECONNRESET, ENOSPC, ...) also carry string codes but are transient: retry them.
  const e = err as { code?: unknown; retriable?: unknown; name?: unknown; syscall?: unknown; errno?: unknown } | null;
  if (!e || typeof e.code !== 'string' || e.retriable === true) return false;
  if (e.syscall !== undefined || e.errno !== undefined) return false;
  if (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) return false;
  // PostgreSQL errors (pg's DatabaseError, TypeORM's QueryFailedError) carry the SQLSTATE as
  // a string code. A database fault (connection lost, serialization failure, deadlock, disk
  // full, lock timeout, a unique violation racing another instance) is not the record's
  // fault: retry. Only class 22 (data exception: the record's values do not fit) is permanent.
  if (isDatabaseError(e as { code: string })) return e.code.startsWith('22');
  return true;
}

function isDatabaseError(e: { code: string; name?: unknown }): boolean {
  const x = e as { name?: unknown; severity?: unknown; routine?: unknown; driverError?: unknown };
  if (x.name === 'QueryFailedError' || x.driverError !== undefined) return true;
  return /^[0-9A-Z]{5}$/.test(e.code) && (x.severity !== undefined || x.routine !== undefined || x.name === 'DatabaseError');
}
