import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ValidationError } from '../errors';

/**
 * SASL users of the broker, from a credentials file given by the operator (never a default user).
 * The file holds SCRAM credentials (RFC 5802), never passwords: per user and mechanism a random
 * salt, the PBKDF2 iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
 * ServerKey = HMAC(SaltedPassword, "Server Key"), as Kafka keeps them in its metadata. PLAIN is
 * checked against the same record (the password is salted and hashed again and compared with
 * StoredKey), so a user written once authenticates with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
 *
 *   { "version": 1, "users": { "<name>": { "SCRAM-SHA-256": { "salt": b64, "iterations": n,
 *     "storedKey": b64, "serverKey": b64 }, "SCRAM-SHA-512": { ... } } } }
 *
 * Written with mode 0600 through a temp file and a rename. `npm run broker -- add-user` writes it.
 */
export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];

export interface ScramCredential {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** Kafka's minimum (and kafkajs's): fewer iterations are refused by clients. */
export const MIN_ITERATIONS = 4096;
export const DEFAULT_ITERATIONS = 8192;

const DIGEST: Record<ScramMechanism, { hash: 'sha256' | 'sha512'; bytes: number }> = {
  'SCRAM-SHA-256': { hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { hash: 'sha512', bytes: 64 },
};

export function digestOf(mechanism: ScramMechanism): { hash: 'sha256' | 'sha512'; bytes: number } {
  return DIGEST[mechanism];
}

export function hmac(mechanism: ScramMechanism, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(DIGEST[mechanism].hash, key).update(data).digest();
}

export function hash(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(DIGEST[mechanism].hash).update(data).digest();
}

/** StoredKey and ServerKey from a salted password. */
function keysFrom(mechanism: ScramMechanism, saltedPassword: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  return { storedKey: hash(mechanism, hmac(mechanism, saltedPassword, 'Client Key')), serverKey: hmac(mechanism, saltedPassword, 'Server Key') };
}

/** A SCRAM credential for a password (a fresh random salt unless one is given). */
export function makeScramCredential(mechanism: ScramMechanism, password: string, iterations = DEFAULT_ITERATIONS, salt: Buffer = randomBytes(32)): ScramCredential {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, DIGEST[mechanism].bytes, DIGEST[mechanism].hash);
  return { salt, iterations, ...keysFrom(mechanism, salted) };
}

/** Whether `password` matches the credential (PLAIN); PBKDF2 runs off the event loop. */
export function passwordMatches(mechanism: ScramMechanism, cred: ScramCredential, password: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) =>
    pbkdf2(password, cred.salt, cred.iterations, DIGEST[mechanism].bytes, DIGEST[mechanism].hash, (err, salted) => {
      if (err) return reject(err);
      resolve(constantTimeEqual(keysFrom(mechanism, salted).storedKey, cred.storedKey));
    }),
  );
}

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

type StoredUsers = Record<string, Partial<Record<ScramMechanism, { salt: string; iterations: number; storedKey: string; serverKey: string }>>>;

const USER_NAME = /^[^\u0000-\u001f\u007f]{1,255}$/;

/** The users of a credentials file; re-read when the file changes, so users can be added live. */
export class CredentialStore {
  private users = new Map<string, Map<ScramMechanism, ScramCredential>>();
  private stamp = '';

  private constructor(
    readonly file: string,
    private readonly log: (level: string, msg: string) => void,
  ) {}

  /** Loads the file; a missing or malformed file is a ValidationError (the broker does not start). */
  static open(file: string, log: (level: string, msg: string) => void): CredentialStore {
    if (!fs.existsSync(file)) {
      throw new ValidationError(`SASL credentials file ${file} does not exist (create users with: npm run broker -- add-user --credentials ${file} --user NAME)`);
    }
    const store = new CredentialStore(file, log);
    store.reload();
    const mode = fs.statSync(file).mode & 0o077;
    if (mode !== 0) log('warn', `SASL credentials file ${file} is readable or writable by others (mode ${(fs.statSync(file).mode & 0o777).toString(8)}); chmod 600 it`);
    if (store.users.size === 0) log('warn', `SASL credentials file ${file} has no users: every authentication will fail`);
    return store;
  }

  get size(): number {
    return this.users.size;
  }

  /** The credential of a user for a mechanism, re-reading the file if it changed since. */
  get(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    this.refresh();
    return this.users.get(user)?.get(mechanism);
  }

  private refresh(): void {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch (e) {
      this.log('error', `SASL credentials file ${this.file}: ${(e as Error).message}; keeping the users loaded before`);
      return;
    }
    if (`${st.mtimeMs}:${st.size}:${st.ino}` === this.stamp) return;
    try {
      this.reload();
      this.log('info', `SASL credentials reloaded from ${this.file} (${this.users.size} user(s))`);
    } catch (e) {
      this.log('error', `${(e as Error).message}; keeping the users loaded before`);
    }
  }

  private reload(): void {
    const st = fs.statSync(this.file);
    this.users = parseCredentials(fs.readFileSync(this.file, 'utf8'), this.file);
    this.stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  }
}

function parseCredentials(text: string, file: string): Map<string, Map<ScramMechanism, ScramCredential>> {
  const bad = (why: string) => new ValidationError(`SASL credentials file ${file}: ${why}`);
  let doc: { version?: unknown; users?: unknown };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (doc?.version !== 1 || typeof doc.users !== 'object' || doc.users === null) throw bad('expected {"version":1,"users":{...}}');
  const out = new Map<string, Map<ScramMechanism, ScramCredential>>();
  for (const [user, mechs] of Object.entries(doc.users as StoredUsers)) {
    if (!USER_NAME.test(user)) throw bad(`invalid user name ${JSON.stringify(user)}`);
    const m = new Map<ScramMechanism, ScramCredential>();
    for (const mech of SCRAM_MECHANISMS) {
      const c = mechs?.[mech];
      if (!c) continue;
      const salt = Buffer.from(String(c.salt), 'base64');
      const storedKey = Buffer.from(String(c.storedKey), 'base64');
      const serverKey = Buffer.from(String(c.serverKey), 'base64');
      if (!Number.isSafeInteger(c.iterations) || c.iterations < MIN_ITERATIONS || salt.length < 16 || storedKey.length !== DIGEST[mech].bytes || serverKey.length !== DIGEST[mech].bytes) {
        throw bad(`user ${user}: malformed ${mech} credential`);
      }
      m.set(mech, { salt, iterations: c.iterations, storedKey, serverKey });
    }
    if (m.size === 0) throw bad(`user ${user} has no SCRAM credential`);
    out.set(user, m);
  }
  return out;
}

function readDoc(file: string): { version: 1; users: StoredUsers } {
  if (!fs.existsSync(file)) return { version: 1, users: {} };
  parseCredentials(fs.readFileSync(file, 'utf8'), file); // refuse to rewrite a file we cannot read
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function writeDoc(file: string, doc: { version: 1; users: StoredUsers }): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(doc, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/**
 * Adds a user (or replaces its password) with SCRAM-SHA-256 and SCRAM-SHA-512 credentials, which
 * also serve PLAIN. Creates the file (mode 0600) if needed.
 */
export function addUser(file: string, user: string, password: string, iterations = DEFAULT_ITERATIONS): void {
  if (!USER_NAME.test(user)) throw new ValidationError(`user name must be 1-255 characters without control characters, got ${JSON.stringify(user)}`);
  if (password.length === 0) throw new ValidationError('password must not be empty');
  if (!Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS) throw new ValidationError(`iterations must be an integer >= ${MIN_ITERATIONS}`);
  const doc = readDoc(file);
  const entry: StoredUsers[string] = {};
  for (const mech of SCRAM_MECHANISMS) {
    const c = makeScramCredential(mech, password, iterations);
    entry[mech] = { salt: c.salt.toString('base64'), iterations: c.iterations, storedKey: c.storedKey.toString('base64'), serverKey: c.serverKey.toString('base64') };
  }
  doc.users[user] = entry;
  writeDoc(file, doc);
}

/** Removes a user; returns false if it was not there. */
export function removeUser(file: string, user: string): boolean {
  const doc = readDoc(file);
  if (!(user in doc.users)) return false;
  delete doc.users[user];
  writeDoc(file, doc);
  return true;
}
