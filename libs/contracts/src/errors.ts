/**
 * Errors raised by the contracts library. Every rejection names the offending field so a
 * dead-letter record or an operator can tell exactly what was wrong with a message.
 */
import { CodedError } from '@deltaflow/core';
export type ContractErrorCode = 'VALIDATION' | 'UNKNOWN_TYPE' | 'UNSUPPORTED_VERSION' | 'TRUNCATED';

export class ContractError extends CodedError<ContractErrorCode> {
  constructor(
    code: ContractErrorCode,
    message: string,
    /** the offending field as a path inside the message (`ranges[2].from`), or an envelope part (`envelope.magic`) */
    readonly field?: string,
    /** the message type, when it was known at the time of the rejection */
    readonly messageType?: string,
  ) {
    super(code, message);
  }
}
