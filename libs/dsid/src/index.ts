export * from './dsid';
export * from './errors';
export { parseDsid, formatDsid, assertValidDsid, sameDsid, formatTimestamp, parseTimestamp, MAX_TIMESTAMP } from './format';
export { parseLineage, formatLineage, rootLineage, forkLineage, isOnHistoryOf, MAX_LINEAGE_LENGTH } from './lineage';
export type { LineagePath, LineageFork } from './lineage';
export { deriveMergedDsid } from './derive';
export { validateMerge, validateRestoreDelta } from './validate';
export type { MergePlan, RestoreDeltaOptions, RestoreDeltaPlan } from './validate';
export { MAX_DELTA_INPUTS } from './input-rules';
