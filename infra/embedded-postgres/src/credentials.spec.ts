import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultCredentialsFile, loadOrCreateCredentials, postgresUrl, saveCredentials, scramVerifier } from './credentials';

const mode = (p: string) => fs.statSync(p).mode & 0o777;

const made: string[] = [];
function scratch(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgcred-test-'));
  made.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

describe('embedded PostgreSQL credentials file', () => {
  it('is created 0600 in a 0700 directory with distinct random passwords, and read back unchanged', () => {
    const file = path.join(scratch(), 'credentials', 'postgres.json');
    const first = loadOrCreateCredentials(file);
    expect(first.created).toBe(true);
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
    const c = first.credentials;
    expect(c.superuser.user).toBe('postgres');
    expect(c.service).toEqual(expect.objectContaining({ user: 'deltaflow', database: 'deltaflow' }));
    expect(c.superuser.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(c.service.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(c.superuser.password).not.toBe(c.service.password);
    expect(c.superuser.password).not.toBe('postgres');
    const again = loadOrCreateCredentials(file);
    expect(again.created).toBe(false);
    expect(again.credentials).toEqual(c);
    // another file gets other passwords
    expect(loadOrCreateCredentials(path.join(path.dirname(file), 'other.json')).credentials.superuser.password).not.toBe(c.superuser.password);
  });

  it('tightens a file or directory that others could read', () => {
    const file = path.join(scratch(), 'credentials', 'postgres.json');
    loadOrCreateCredentials(file);
    fs.chmodSync(file, 0o644);
    fs.chmodSync(path.dirname(file), 0o755);
    const r = loadOrCreateCredentials(file);
    expect(r.tightened).toBe(true);
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);
  });

  it('keeps the mode when saved again, and leaves no temp file behind', () => {
    const file = path.join(scratch(), 'c', 'pg.json');
    const { credentials } = loadOrCreateCredentials(file);
    saveCredentials(file, { ...credentials, cluster: '42' });
    expect(mode(file)).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['pg.json']);
    expect(loadOrCreateCredentials(file).credentials.cluster).toBe('42');
  });

  it('refuses a symlinked file, a symlinked directory, a damaged file', () => {
    const root = scratch();
    const real = path.join(root, 'real', 'pg.json');
    loadOrCreateCredentials(real);
    fs.mkdirSync(path.join(root, 'c'), { mode: 0o700 });
    fs.symlinkSync(real, path.join(root, 'c', 'pg.json'));
    expect(() => loadOrCreateCredentials(path.join(root, 'c', 'pg.json'))).toThrow(/cannot open credentials file/);
    fs.symlinkSync(path.join(root, 'real'), path.join(root, 'link'));
    expect(() => loadOrCreateCredentials(path.join(root, 'link', 'pg.json'))).toThrow(/not a directory/);
    fs.writeFileSync(path.join(root, 'real', 'bad.json'), '{"version":1}', { mode: 0o600 });
    expect(() => loadOrCreateCredentials(path.join(root, 'real', 'bad.json'))).toThrow(/not a valid credentials file/);
  });

  (process.getuid?.() === 0 ? it : it.skip)('refuses a directory owned by another user (as root)', () => {
    const dir = path.join(scratch(), 'theirs');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, 65534, 65534);
    expect(() => loadOrCreateCredentials(path.join(dir, 'pg.json'))).toThrow(/belongs to uid 65534/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('defaults next to the data directory, in a credentials folder', () => {
    expect(defaultCredentialsFile('/x/home/postgres')).toBe('/x/home/credentials/postgres.json');
  });

  it('builds SCRAM verifiers PostgreSQL accepts as already hashed, salted afresh each time', () => {
    const v = scramVerifier('secret', Buffer.alloc(16, 1));
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:AQEBAQEBAQEBAQEBAQEBAQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(scramVerifier('secret', Buffer.alloc(16, 1))).toBe(v);
    expect(scramVerifier('secret')).not.toBe(scramVerifier('secret'));
    expect(postgresUrl({ user: 'deltaflow', password: 'a/b' }, '::1', 5432, 'deltaflow')).toBe('postgres://deltaflow:a%2Fb@[::1]:5432/deltaflow');
  });
});
