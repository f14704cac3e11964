export * from './errors';
export * from './types';
export * from './block-set';
export * from './marks';
