export * from './errors';
export * from './types';
export * from './block-set';
export * from './marks';
export * from './geometry';
export * from './dlog';
export * from './blocks-to-save';
export * from './snapshot';
