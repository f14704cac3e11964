// The producer and reader side of streaming backup (used by the save writer, merge engine and DSIM builder).
export { SovClient, type ClientFileReport, type SovClientOptions } from './sov-client';
export { ClientFileWriter, SUPERBLOCK_BYTES, type ByteSink, type ClientFileWriterOptions, type ClientFileWritten, type OpenClientFile } from './client-file-writer';
export { ClientFileReader, type ClientFileId, type ClientFilePlacements, type ClientFileReaderOptions } from './client-file-reader';
export { StreamReadCoordinator, type PassReport, type StreamReadCoordinatorOptions } from './stream-read-coordinator';
export { SovClientError, type SovClientErrorCode } from './errors';
export { StreamOutput } from './stream-output';
