import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { binariesFor, searchableBy, type PostgresBinaries } from './binaries';

const nobody = { uid: 65534, gid: 65534, name: 'nobody' };

function fakeBinaries(parentMode: number): { bins: PostgresBinaries; parent: string } {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'pgbin-test-'));
  const root = path.join(parent, 'native');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
  for (const f of ['initdb', 'postgres']) fs.writeFileSync(path.join(root, 'bin', f), `#!/bin/sh\necho ${f}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'lib', 'libpq.so.5.17'), 'lib');
  fs.symlinkSync('libpq.so.5.17', path.join(root, 'lib', 'libpq.so.5'));
  fs.chmodSync(parent, parentMode);
  return { bins: { root, initdb: path.join(root, 'bin', 'initdb'), postgres: path.join(root, 'bin', 'postgres') }, parent };
}

describe('PostgreSQL binaries for an unprivileged OS user', () => {
  it('are used in place when that user can reach them, or when we are not root', () => {
    const { bins } = fakeBinaries(0o755);
    expect(searchableBy(bins.root, nobody)).toBe(true);
    expect(binariesFor(bins, nobody, '/nonexistent')).toBe(bins);
    const hidden = fakeBinaries(0o700).bins;
    expect(binariesFor(hidden, undefined, '/nonexistent')).toBe(hidden);
  });

  it('are copied once to a reachable place when node_modules sits in a directory that user cannot enter', () => {
    const { bins, parent } = fakeBinaries(0o700);
    expect(searchableBy(bins.root, nobody)).toBe(false);
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgbin-base-'));
    fs.chmodSync(base, 0o755);
    const copied = binariesFor(bins, nobody, path.join(base, 'deltaflow'));
    expect(copied.root.startsWith(path.join(base, 'deltaflow', 'pgbin-'))).toBe(true);
    expect(searchableBy(copied.root, nobody)).toBe(true);
    expect(fs.readFileSync(copied.postgres, 'utf8')).toBe('#!/bin/sh\necho postgres\n');
    expect(fs.statSync(copied.initdb).mode & 0o111).toBe(0o111);
    expect(fs.readlinkSync(path.join(copied.root, 'lib', 'libpq.so.5'))).toBe('libpq.so.5.17');
    // a second start reuses the copy
    fs.writeFileSync(path.join(copied.root, 'marker'), 'x');
    expect(binariesFor(bins, nobody, path.join(base, 'deltaflow')).root).toBe(copied.root);
    expect(fs.existsSync(path.join(copied.root, 'marker'))).toBe(true);
    fs.chmodSync(parent, 0o755);
  });
});
