// @deltaflow/core: the primitives every Deltaflow library shares (coded errors, the decider
// shape, a seeded random generator, durable file writes, safe user-given names).
export * from './errors';
export * from './decider';
export * from './random';
export * from './files';
export * from './names';
export * from './throttle';
