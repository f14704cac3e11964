// @deltaflow/save-chain: the save lifecycle (with DSID assignment) and the original DSIM lifecycle of a database, as deciders.
export { SaveChainError } from './errors';
export type { SaveChainErrorCode } from './errors';
export { initialState, decide, evolve, fold, whyRefused } from './save-lifecycle';
export type { SaveLifecycleState, SaveCommand, SaveEvent, SaveMode, RunningSave } from './save-lifecycle';
export { initialDsimState, decideDsim, evolveDsim, blockKey } from './dsim';
export type { DsimState, DsimCommand, DsimEvent, BlockKey } from './dsim';
