export * from './metrics';
export * from './health';
export * from './http';
export * from './consumer-monitor';
export { observeProduced, OperationTracker, operationTracker } from './published-events';
export * from './disk-space';
