/**
 * PostgreSQL refuses to run as root. When we are root, initdb and postgres run as an
 * unprivileged system user (default `deltaflow`), created on first use with `useradd`
 * (no home, no login shell). When we are not root they run as ourselves.
 */
import { execFileSync } from 'node:child_process';
import { EmbeddedPostgresError } from './errors';

export interface RunAs {
  readonly uid: number;
  readonly gid: number;
  readonly name: string;
}

function lookup(name: string): RunAs | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid, name } : undefined;
  } catch {
    return undefined;
  }
}

/** Returns the identity PostgreSQL must run under, or undefined to run as the current user. */
export function resolveRunAs(osUser: string): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(osUser)) {
    throw new EmbeddedPostgresError('USER_SETUP_FAILED', `invalid OS user name ${JSON.stringify(osUser)}`);
  }
  const existing = lookup(osUser);
  if (existing) return existing;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', osUser], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    // Another process may have created it between our lookup and useradd.
    const raced = lookup(osUser);
    if (raced) return raced;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new EmbeddedPostgresError('USER_SETUP_FAILED', `running as root, and could not create system user ${osUser} for PostgreSQL: ${stderr || (err as Error).message}`, false, { cause: err });
  }
  const created = lookup(osUser);
  if (!created) throw new EmbeddedPostgresError('USER_SETUP_FAILED', `useradd ${osUser} succeeded but the user cannot be looked up`);
  return created;
}
