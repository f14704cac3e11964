/** Durable file primitives: what survives a crash (kill -9, power loss) and what does not. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** fsyncs a directory, so that a create, rename or unlink in it survives a crash. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a file atomically: temp name, fsync, rename, fsync of the directory. Readers see the old or the new content, never a mix. */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: { fsync?: boolean; mode?: number } = {}): void {
  const durable = options.fsync ?? true;
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', options.mode ?? 0o666);
  try {
    fs.writeFileSync(fd, data);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  if (durable) fsyncDir(path.dirname(file));
}
