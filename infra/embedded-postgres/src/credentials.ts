/**
 * The embedded cluster's passwords: generated once (crypto.randomBytes), kept in a JSON file
 * of mode 0600 in a directory of mode 0700, both owned by the user who starts the server
 * (not by the OS user PostgreSQL runs as), and reused by every later start. Nothing here
 * prints a password; the server only ever receives SCRAM verifiers (`scramVerifier`), so
 * no plaintext password reaches its log either.
 *
 *   { "version": 1,
 *     "superuser": { "user": "postgres", "password": "..." },   // admin code only
 *     "service":   { "user": "deltaflow", "password": "...", "database": "deltaflow" },
 *     "cluster": "7345..." }   // system identifier of the cluster these passwords were set on
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EmbeddedPostgresError } from './errors';

export interface RoleCredentials {
  readonly user: string;
  readonly password: string;
}

export interface ClusterCredentials {
  readonly version: 1;
  /** the cluster's bootstrap superuser; used by the embedded-postgres admin code only */
  readonly superuser: RoleCredentials;
  /** the non-superuser role the services connect as, and the database it owns */
  readonly service: RoleCredentials & { readonly database: string };
  /** system identifier (pg_control) of the cluster whose passwords these are; absent until set */
  readonly cluster?: string;
}

/** Role and database names we create: plain lower-case identifiers, no quoting surprises. */
export const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export const DEFAULT_SUPERUSER = 'postgres';
export const DEFAULT_SERVICE_ROLE = 'deltaflow';
export const DEFAULT_SERVICE_DATABASE = 'deltaflow';

/** 24 random bytes, base64url: 32 characters that need no escaping in a URL or SQL literal. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Where a cluster's credentials go when not told: `<parent of dataDir>/credentials/<name of dataDir>.json`. */
export function defaultCredentialsFile(dataDir: string): string {
  return path.join(path.dirname(path.resolve(dataDir)), 'credentials', `${path.basename(path.resolve(dataDir))}.json`);
}

function insecure(message: string): EmbeddedPostgresError {
  return new EmbeddedPostgresError('CREDENTIALS_INVALID', message);
}

function myUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/** Creates the directory 0700 if missing; refuses a symlink or a directory someone else owns; tightens a looser mode. */
function secureDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw insecure(`cannot create credentials directory ${dir}: ${(err as Error).message}`);
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw insecure(`credentials directory ${dir} is not a directory (a symlink?)`);
  const uid = myUid();
  if (uid !== undefined && st.uid !== uid) throw insecure(`credentials directory ${dir} belongs to uid ${st.uid}, not to us (uid ${uid}): refusing to keep passwords there`);
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

function validate(file: string, raw: unknown): ClusterCredentials {
  const c = raw as Partial<ClusterCredentials> | null;
  const role = (r: unknown): r is RoleCredentials =>
    !!r && typeof (r as RoleCredentials).user === 'string' && IDENTIFIER.test((r as RoleCredentials).user) && typeof (r as RoleCredentials).password === 'string' && (r as RoleCredentials).password.length >= 16;
  if (!c || c.version !== 1 || !role(c.superuser) || !role(c.service) || typeof c.service.database !== 'string' || !IDENTIFIER.test(c.service.database) || (c.cluster !== undefined && typeof c.cluster !== 'string')) {
    throw insecure(`${file} is not a valid credentials file; remove it and the next start generates new passwords and sets them on the cluster`);
  }
  if (c.superuser.user === c.service.user) throw insecure(`${file}: the service role must not be the superuser (${c.service.user})`);
  return c as ClusterCredentials;
}

/**
 * Reads the credentials file, or creates it with fresh passwords. `created` is true when
 * this call generated them (first start, or the file was removed).
 */
export function loadOrCreateCredentials(file: string): { credentials: ClusterCredentials; created: boolean; tightened: boolean } {
  secureDir(path.dirname(file));
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw insecure(`cannot open credentials file ${file}: ${(err as Error).message}`);
    const credentials: ClusterCredentials = {
      version: 1,
      superuser: { user: DEFAULT_SUPERUSER, password: generatePassword() },
      service: { user: DEFAULT_SERVICE_ROLE, password: generatePassword(), database: DEFAULT_SERVICE_DATABASE },
    };
    validate(file, credentials);
    saveCredentials(file, credentials);
    return { credentials, created: true, tightened: false };
  }
  try {
    const st = fs.fstatSync(fd);
    const uid = myUid();
    if (!st.isFile()) throw insecure(`credentials file ${file} is not a regular file`);
    if (uid !== undefined && st.uid !== uid) throw insecure(`credentials file ${file} belongs to uid ${st.uid}, not to us (uid ${uid})`);
    const tightened = (st.mode & 0o077) !== 0;
    if (tightened) fs.fchmodSync(fd, 0o600);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(fd, 'utf8'));
    } catch {
      raw = null;
    }
    return { credentials: validate(file, raw), created: false, tightened };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes the file atomically (temp file 0600 + fsync + rename) in its 0700 directory. */
export function saveCredentials(file: string, credentials: ClusterCredentials): void {
  const dir = path.dirname(file);
  secureDir(dir);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeFileSync(fd, `${JSON.stringify(credentials, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw insecure(`cannot write credentials file ${file}: ${(err as Error).message}`);
  }
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL would store for `password` (RFC 5802/7677, 4096
 * iterations, 16-byte salt): `ALTER ROLE ... PASSWORD '<verifier>'` sets the password
 * without the plaintext ever reaching the server. Passwords here are ASCII, which SASLprep
 * leaves unchanged.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** postgres://user:password@host:port/database (host bracketed when IPv6). */
export function postgresUrl(role: RoleCredentials, host: string, port: number, database: string): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `postgres://${encodeURIComponent(role.user)}:${encodeURIComponent(role.password)}@${h}:${port}/${encodeURIComponent(database)}`;
}
