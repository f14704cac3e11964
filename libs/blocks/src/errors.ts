import { CodedError } from '@deltaflow/core';

/** Why a block, range or geometry was refused. */
export type BlocksErrorCode =
  | 'VALIDATION' // malformed geometry, range or RABN
  | 'AREA_INVALID' // an area name that is neither ASSO nor DATA
  | 'CORRUPT_DATA'; // a stored block set that does not decode

export class BlocksError extends CodedError<BlocksErrorCode> {
  constructor(
    code: BlocksErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(code, `${code}: ${message}`);
  }
}
