/** Why a save data set was refused; `code` is stable, `position` is the byte offset concerned (if any). */
import { CodedError } from '@deltaflow/core';
export type SaveFormatErrorCode =
  | 'VALIDATION' // bad header fields or writer arguments
  | 'OUT_OF_ORDER' // writer: record not after the previous one in (area, RABN) order
  | 'DUPLICATE_RECORD' // writer: same (area, RABN) twice
  | 'IMAGE_LENGTH' // writer: image length differs from the area's block size
  | 'ALREADY_EXISTS' // writer: output path exists
  | 'ILLEGAL_STATE' // writer used after finish/abort, reader used after close
  | 'NOT_A_DATA_SET' // reader: wrong magic
  | 'UNSUPPORTED_VERSION' // reader: format version this code does not know
  | 'TRUNCATED' // reader: file ends before the trailer is complete
  | 'CORRUPT_DATA'; // reader: a CRC, digest, count, order or field check failed

/** Error thrown by @deltaflow/save-format. */
export class SaveFormatError extends CodedError<SaveFormatErrorCode> {
  constructor(
    code: SaveFormatErrorCode,
    message: string,
    /** byte offset in the data set where the problem was found */
    readonly position?: number,
  ) {
    super(code, `${code}: ${message}${position === undefined ? '' : ` (at byte ${position})`}`);
  }
}
