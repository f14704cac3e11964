// @deltaflow/blockdb: a protected block database on disk (header + ASSO + DATA area files).
export { BlockDbError } from './errors';
export type { BlockDbErrorCode } from './errors';
export { AREA_FILES, HEADER_FILE, databaseDir, validateDbid } from './header';
export { BlockDatabase, digestBlocks } from './database';
export type { CreateOptions, OpenOptions } from './database';
export { LOCK_FILE, PID_LOCK_FILE, lockDatabase } from './lock';
export type { DatabaseLock } from './lock';
