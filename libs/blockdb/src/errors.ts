import { CodedError } from '@deltaflow/core';

/** Why a block database operation was refused; `code` is stable, the message is for humans. */
export type BlockDbErrorCode =
  | 'VALIDATION' // bad geometry, dbid or options
  | 'AREA_INVALID' // an area name that is neither ASSO nor DATA
  | 'RABN_OUT_OF_RANGE' // RABN not an integer in 1..blocks of the area
  | 'IMAGE_LENGTH' // image length differs from the area's block size
  | 'NOT_FOUND' // no database at the path
  | 'ALREADY_EXISTS' // create() over an existing database
  | 'CORRUPT_HEADER' // header unreadable, wrong format, or area file sizes disagree with it
  | 'READ_ONLY' // write on a database opened read-only
  | 'LOCKED' // another update holds the database's lock (lockDatabase)
  | 'CLOSED'; // use after close()

/** Error thrown by @deltaflow/blockdb; never thrown after a partial change. */
export class BlockDbError extends CodedError<BlockDbErrorCode> {
  constructor(code: BlockDbErrorCode, message: string) {
    // LOCKED passes once the other update finished: the one code worth trying again.
    super(code, `${code}: ${message}`, { retriable: code === 'LOCKED' });
  }
}
