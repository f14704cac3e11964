// @deltaflow/blocks: the block model every part shares: areas, block addresses, images and
// ranges, sets of blocks, and the geometry of a database (areas, files, extents, admin blocks).
export * from './errors';
export * from './block';
export * from './block-set';
export * from './geometry';
export * from './sample';
