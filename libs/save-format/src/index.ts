// @deltaflow/save-format: the one on-disk format of full saves, deltas, merge outputs and DSIMs.
export { SaveFormatError } from './errors';
export type { SaveFormatErrorCode } from './errors';
export { FORMAT_VERSION, decodeHeader, encodeHeader, toDescriptor, validateSaveHeader } from './header';
export type { SaveHeader, SaveTrailer } from './header';
export { DataSetWriter, partialPath } from './writer';
export type { DataSetSink, DataSetTarget, WriterOptions, WrittenDataSet } from './writer';
export { DataSetReader, DEFAULT_CHUNK, describeDataSet, readSaveHeader } from './reader';
export type { ReaderOptions, SaveRecord } from './reader';
export { writeSaveFromDatabase } from './from-database';
export type { SaveMeta } from './from-database';
export { dataSetDir, dataSetPath } from './paths';
