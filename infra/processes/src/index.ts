// @deltaflow/processes: Deltaflow's services as OS processes (the launcher, and tests that kill -9 them).
export * from './processes';
export * from './supervisor';
