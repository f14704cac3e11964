// @deltaflow/tape: volume labels, 256 KiB superblocks, volume writer, verifying reader and the
// catalog-free scanner (SCANSTREAMFILE).
export { TapeError, TapeCorruptError, TapeIoError, TapeNotFoundError, TapeStateError, TapeValidationError } from './errors';
export type { TapeErrorCode, TapePosition } from './errors';
export { decodeLabel, encodeLabel, LABEL_MAGIC, MAX_LABEL_LENGTH } from './label';
export type { DecodedLabel, VolumeLabel } from './label';
export { assertClientFileId, assertStreamName, assertVolser, volumePath } from './names';
export {
  decodeSuperblock,
  decodeSuperblockHeader,
  encodedSuperblockLength,
  encodeSuperblock,
  MAX_SUPERBLOCK_HEADER,
  MAX_SUPERBLOCK_PAYLOAD,
} from './superblock';
export type { Superblock, SuperblockHeader, SuperblockInput } from './superblock';
export { readClientFile, readSuperblockAt, readVolumeLabel, scanVolume, volumeExists, VolumeWriter } from './volume';
export type { FoundSuperblock, Placement, VolumeProblem, VolumeScan } from './volume';
export { scanStreamFile } from './scan';
export type { ScannedClientFile, ScannedVolume, StreamFileScan } from './scan';
