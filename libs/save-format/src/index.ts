// @deltaflow/save-format: the one on-disk format of full saves, deltas, merge outputs and DSIMs.
export { SaveFormatError } from './errors';
export type { SaveFormatErrorCode } from './errors';
export { FORMAT_VERSION, decodeHeader, encodeHeader, roleOf, toDescriptor, validateSaveHeader } from './header';
export type { SaveHeader, SaveKind, SaveTrailer } from './header';
export { SaveWriter, partialPath } from './writer';
export type { WriterOptions, WrittenDataSet } from './writer';
export { SaveReader, describeDataSet, readSaveHeader } from './reader';
export type { ReaderOptions, SaveRecord } from './reader';
export { writeSaveFromDatabase } from './from-database';
export type { BlockAddress, SaveMeta } from './from-database';
