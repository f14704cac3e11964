import * as path from 'node:path';
import { isSafeName, MAX_STREAM_NAME, SAFE_NAME_RULE } from '@deltaflow/core';
import { TapeValidationError } from './errors';

/*
 * Names that reach the file system or a header. Only the volser becomes part of a path, and it is
 * restricted to [A-Z0-9]{1,6} (the mainframe volume serial alphabet), so a volume path can never
 * leave its directory; the other names are checked so that headers stay small and printable.
 */

const VOLSER = /^[A-Z0-9]{1,6}$/;
const CLIENT_FILE = /^[\x21-\x7e]{1,255}$/;

/** Checks a volume serial: 1–6 characters A–Z, 0–9. */
export function assertVolser(volser: string): void {
  if (typeof volser !== 'string' || !VOLSER.test(volser))
    throw new TapeValidationError(`volser ${JSON.stringify(volser)} must be 1-6 characters A-Z 0-9`, 'volser');
}

/** Checks a stream name (also used for stream file ids): 1–64 of A–Z a–z 0–9 . _ -, not starting with . _ -. */
export function assertStreamName(name: string, field = 'stream'): void {
  if (!isSafeName(name, MAX_STREAM_NAME))
    throw new TapeValidationError(`${field} ${JSON.stringify(name)} must be ${SAFE_NAME_RULE.replace('1..128', `1..${MAX_STREAM_NAME}`)}`, field);
}

/** Checks a client file id: 1–255 printable ASCII characters, no spaces. */
export function assertClientFileId(id: string): void {
  if (typeof id !== 'string' || !CLIENT_FILE.test(id))
    throw new TapeValidationError(
      `client file id ${JSON.stringify(id).slice(0, 80)} must be 1-255 printable ASCII characters without spaces`,
      'clientFile',
    );
}

/** The path of a volume file under `dir`; the volser is validated so the path stays inside `dir`. */
export function volumePath(dir: string, volser: string): string {
  assertVolser(volser);
  const root = path.resolve(dir);
  const file = path.join(root, `${volser}.vol`);
  // Defence in depth: the volser alphabet already forbids separators and dots.
  if (path.dirname(file) !== root) throw new TapeValidationError(`volume path escapes ${root}`, 'volser');
  return file;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Checks a client-file incarnation id: a lower-case UUID string (random, one per written client file). */
export function assertIncarnation(id: string): void {
  if (typeof id !== 'string' || !UUID.test(id))
    throw new TapeValidationError(`incarnation ${JSON.stringify(id).slice(0, 60)} must be a lower-case UUID`, 'incarnation');
}

/** The 16 bytes of an incarnation id as stored in record headers. */
export function incarnationBytes(id: string): Buffer {
  assertIncarnation(id);
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

/** An incarnation id from its 16 header bytes. */
export function incarnationFromBytes(b: Uint8Array): string {
  const h = Buffer.from(b.buffer, b.byteOffset, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The all-zero incarnation of volume-level records (label, checkpoint, trailer). */
export const NO_INCARNATION = '00000000-0000-0000-0000-000000000000';
