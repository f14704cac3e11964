export { createDataSource, openDataSource, redact, type DataSourceOptions } from './data-source';
export { CheckpointMigration, CheckpointMigration1700000000000, applyOnce, applyBatchOnce, readCheckpoints, type ApplyOutcome, type Checkpoint, type RecordPosition } from './checkpoint';
export { PersistenceError, type PersistenceErrorCode } from './errors';
