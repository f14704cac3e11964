import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LsnStore } from './lsn-store';

describe('LsnStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lsn-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('hands out strictly increasing LSNs from 1', () => {
    const s = new LsnStore(path.join(dir, 'lsn.json'), 3);
    expect([s.take(), s.take(), s.take(), s.take(), s.take()]).toEqual([1, 2, 3, 4, 5]);
    expect(s.last).toBe(5);
  });

  it('given a restart (even after a crash mid-chunk), continues above every LSN handed out', () => {
    const file = path.join(dir, 'lsn.json');
    const a = new LsnStore(file, 10);
    for (let i = 0; i < 13; i++) a.take(); // 1..13, reserved up to 22
    const b = new LsnStore(file, 10); // no close: the reservation on disk is what counts
    expect(b.take()).toBeGreaterThan(13);
  });

  it('refuses a damaged file instead of restarting from 1', () => {
    const file = path.join(dir, 'lsn.json');
    fs.writeFileSync(file, JSON.stringify({ reservedUpTo: -5 }));
    expect(() => new LsnStore(file)).toThrow(/reservedUpTo/);
  });
});
