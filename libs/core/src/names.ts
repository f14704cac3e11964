/**
 * Names that users give and that become file names (data sets, restore targets, shadows,
 * client files, streams): one rule, so nothing a user types can leave its directory.
 * A name is 1..128 characters of [A-Za-z0-9._-], starting with a letter or digit: no path
 * separator, no leading dot (so never `.` or `..`), and never ending in `.partial` (the suffix
 * of files being written).
 */
import * as path from 'node:path';
import { CodedError } from './errors';

export const SAFE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const SAFE_NAME_RULE = 'a name of [A-Za-z0-9._-] (1..128, starting with a letter or digit, not ending in .partial)';
/** Suffix of a file still being written; never a name of its own. */
export const PARTIAL_SUFFIX = '.partial';

/** True for a safe name of at most `maxLength` characters (stream names: 64). */
export function isSafeName(name: unknown, maxLength = 128): name is string {
  return typeof name === 'string' && name.length <= maxLength && SAFE_NAME_PATTERN.test(name) && !name.endsWith(PARTIAL_SUFFIX);
}

/** The longest stream name (also a Kafka key on sov.*). */
export const MAX_STREAM_NAME = 64;

export class UnsafeNameError extends CodedError<'VALIDATION'> {
  constructor(
    readonly unsafeName: string,
    what = 'name',
  ) {
    super('VALIDATION', `${what} ${JSON.stringify(unsafeName)} is not ${SAFE_NAME_RULE}`);
  }
}

/** The path of `name` inside `dir`; throws UnsafeNameError for anything that is not a plain safe name. */
export function safePathIn(dir: string, name: string, what = 'name'): string {
  if (!isSafeName(name)) throw new UnsafeNameError(name, what);
  const root = path.resolve(dir);
  const file = path.resolve(root, name);
  if (path.dirname(file) !== root) throw new UnsafeNameError(name, what);
  return file;
}
