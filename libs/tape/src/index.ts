// @deltaflow/tape: volume format v2 (records, label, checkpoints, trailer), devices (file, tape
// model), per-superblock codec (zstd/gzip/brotli, AES-256-GCM), volume writer, verifying reader,
// restore planner and executor, and the catalog-free scanner (SCANSTREAMFILE) with its catalog fold.
export { SovRejectedError, TapeAuthError, TapeCorruptError, TapeError, TapeIoError, TapeKeyError, TapeNotFoundError, TapeStateError, TapeValidationError } from './errors';
export type { SovRejectionCode, TapeErrorCode, TapePosition } from './errors';
export { assertClientFileId, assertIncarnation, assertStreamName, assertVolser, NO_INCARNATION, volumePath } from './names';
export {
  decodeHeader,
  decodeIndex,
  encodeHeader,
  encodeIndex,
  FORMAT_VERSION,
  HEADER_LENGTH,
  MAX_SUPERBLOCK_PAYLOAD,
  RECORD_MAGIC,
} from './format';
export type { AbortRecord, Addressing, CloseRecord, CodecSpec, IndexBody, OpenRecord, RecordHeader, RecordKind, RunEntry, VolumeLabel } from './format';
export { ClientFileSession, codecSpec, operatorKeyId, SuperblockCodec } from './codec';
export type { EncodedSuperblock, Keyring, SuperblockInput } from './codec';
export { DelegatingDevice, FileDevice, TapeModelDevice, VirtualClock } from './device';
export type { Device, FileDeviceOptions, MountInfo, TapeModelOptions } from './device';
export { DEFAULT_CHECKPOINT_EVERY, VolumeWriter } from './writer';
export type { Durable, FinishedVolume, RunPlacement, VolumeWriterOptions } from './writer';
export type { Damage } from './records';
export { readLabel, scanVolume } from './scan';
export type { ScanOptions, VolumeScan } from './scan';
export { scanStreamFile } from './streamfile';
export type { StreamFileScan } from './streamfile';
export { assessFile, catalogDigest, eventsOfScan, evolveCatalog, initialCatalog, openedEventOf, openRecordOf, restoreRuns } from './catalog';
export type { CatalogEvent, CatalogFile, CatalogState, CatalogVolume, FileAssessment } from './catalog';
export { planRestores } from './planner';
export type { PlannedDelivery, PlannedRead, PlannedRun, PlanOptions, ReadPlan, RestoreRequest, RestoreRun } from './planner';
export { executePlan, readClientFile } from './reader';
export { RestorePass } from './pass';
export { verifyVolume } from './verify';
export type { ExpectedRun, VerifyOptions, VerifyProblem, VolumeVerification } from './verify';
export type { PassMember, PassOptions, PassStats } from './pass';
export type { ExecuteStats, ReadClientFileOptions, RestoreSink } from './reader';
export { activeDevices, admitSuperblock, allocateVolser, foldSov, initialSovState, isLive, nextDeviceName, sovDecider } from './streams';
export type { DeviceState, DurableRecords, FileState, ReclaimReport, RunMove, RunMovedEvent, SovCommand, SovEvent, SovEventOf, SovState, StreamSettings, StreamState, VolumeRun, VolumeState } from './streams';
export type { VerificationEvent, VerificationProblem } from './verification';
export { servingVerdict, type ServingVerdict } from './serving';
export { readRunForCopy, reclaimCandidates } from './reclaim';
export type { ReclaimAssessment, ReclaimCandidate } from './reclaim';
