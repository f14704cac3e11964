import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlockDbError, lockDatabase, PID_LOCK_FILE } from './index';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blockdb-lock-'));
});
afterEach(() => {
  delete process.env.DELTAFLOW_LOCK;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BlockDbError);
    return (e as BlockDbError).code;
  }
  throw new Error('expected LOCKED');
}

describe.each(['flock', 'pidfile'])('lockDatabase (%s)', (kind) => {
  beforeEach(() => {
    if (kind === 'pidfile') process.env.DELTAFLOW_LOCK = 'pidfile';
  });

  it('is exclusive until released, then available again', async () => {
    const a = await lockDatabase(dir);
    expect(a.kind).toBe(kind);
    expect(await codeOf(lockDatabase(dir))).toBe('LOCKED');
    expect(await lockDatabase(dir).catch((e) => e.retriable)).toBe(true);
    await a.release();
    await a.release();
    const b = await lockDatabase(dir);
    await b.release();
  });

  it('is released when its holder dies, however it dies', async () => {
    // A child process takes the lock, says so, and is killed with SIGKILL.
    const script = `
      process.env.DELTAFLOW_LOCK = ${JSON.stringify(kind === 'pidfile' ? 'pidfile' : '')};
      require(${JSON.stringify(path.resolve(__dirname, '../../../infra/launcher/bin/register'))});
      const { lockDatabase } = require(${JSON.stringify(path.resolve(__dirname, 'lock.ts'))});
      lockDatabase(${JSON.stringify(dir)}).then(() => { console.log('held'); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (d) => String(d).includes('held') && resolve()));
    expect(await codeOf(lockDatabase(dir))).toBe('LOCKED');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    let lock = null;
    for (let i = 0; i < 50 && !lock; i++) {
      lock = await lockDatabase(dir).catch(() => null);
      if (!lock) await new Promise((r) => setTimeout(r, 20));
    }
    expect(lock).not.toBeNull();
    await lock!.release();
    if (kind === 'pidfile') expect(fs.existsSync(path.join(dir, PID_LOCK_FILE))).toBe(false);
  }, 20000);
});
