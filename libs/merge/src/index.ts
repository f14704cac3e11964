// @deltaflow/merge: merge of save data sets (k-way, newest wins) and restore delta into a block database.
export { MergeError } from './errors';
export type { MergeErrorCode } from './errors';
export { KWayMerge } from './kway';
export { checkSameShape, loadInputs } from './inputs';
export type { InputSet } from './inputs';
export { cascadePath, mergeDataSets } from './merge';
export type { MergeProgress, MergeRequest, MergeResult } from './merge';
export { DEFAULT_FAN_IN } from './inputs';
export { checkRestore, restoreDelta } from './restore';
export type { RestoreCheck, RestoreProgress, RestoreRequest, RestoreResult } from './restore';
export { RESTART_FILE, STATUS_FILE, readRestartState, readRestoreStatus, readShadowStatus } from './restore-state';
export type { RestartState, RestoreStatus, ShadowStatus } from './restore-state';
export { planScope } from './scope';
export type { FileMove, RestoreScope, ScopePlan } from './scope';
export { regenerate } from './shadow';
export type { PlogImage, RegenerateRequest, RegenerateResult } from './shadow';
export { readUnloadHeader, UNLOAD_FORMAT, unloadFile } from './unload';
export type { UnloadHeader, UnloadRequest, UnloadResult, UnloadSection } from './unload';
