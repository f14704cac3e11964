import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh, empty directory under the OS temp dir (removing it is the caller's job). */
export function tempDir(prefix: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(prefix)) throw new Error(`tempDir prefix must be 1-64 of [A-Za-z0-9._-] (got ${JSON.stringify(prefix)})`);
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}
