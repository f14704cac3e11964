// @deltaflow/dlog: the DLOG (decider), the change log that drives it from the upstream stream,
// utility marks, which blocks a save holds, and DLOG snapshots.
export * from './errors';
export * from './marks';
export * from './dlog';
export * from './blocks-to-save';
export * from './change-log';
export * from './snapshot';
export * from './block-changes-retention';
export * from './dlog-retention';
export * from './snapshot-parts';
