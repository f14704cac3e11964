// @deltaflow/save-chain: the save lifecycle of a database (with DSID assignment), its original
// DSIM and its sample schedule (schedule/), as deciders. Each decider module exports decide /
// evolve / initialState and one decider value: `saveLifecycle.decide(...)`, `dsim.decide(...)`,
// `schedule.decide(...)`.
export { SaveChainError } from './errors';
export type { SaveChainErrorCode } from './errors';
export * as saveLifecycle from './save-lifecycle';
export type { SaveLifecycleState, SaveCommand, SaveEvent, RunningSave } from './save-lifecycle';
export * as dsim from './dsim';
export type { DsimState, DsimCommand, DsimEvent, DsimLocation } from './dsim';
export * from './plog-retention';
export * from './data-set-retention';
export * as schedule from './schedule/schedule';
export type { ScheduleState, ScheduleEvent, ScheduleCommand, ScheduleDefinition, StepPlan, StepCommand, StepOutcome, ScheduleStepKind } from './schedule/schedule';
