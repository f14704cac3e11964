// @deltaflow/blockdb: a protected block database on disk (header + ASSO + DATA area files).
export { BlockDbError } from './errors';
export type { BlockDbErrorCode } from './errors';
export {
  AREAS,
  DSST_RABN,
  GCB_RABN,
  adminBlockCount,
  areaCode,
  areaFromCode,
  areaGeometry,
  assertArea,
  extentArea,
  fcbRabn,
  fdtRabn,
  fileRanges,
  geometryEquals,
  normalizeRanges,
  rangesContain,
  usedRanges,
  validateGeometry,
} from './geometry';
export type { Area, AreaGeometry, BlockRange, Extent, ExtentKind, FileDef, Geometry } from './geometry';
export { AREA_FILES, HEADER_FILE, fsyncDir, validateDbid, writeFileAtomic } from './header';
export { BlockDatabase, digestBlocks } from './database';
export type { BlockView, CreateOptions, OpenOptions } from './database';
