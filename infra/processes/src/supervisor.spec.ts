import { nextBackoff, supervise } from './supervisor';
import { startChild, stopChild } from './processes';

const o = { initialBackoffMs: 100, maxBackoffMs: 1000, stableMs: 5000 };
const entry = 'infra/processes/src/fixtures/child.ts';

describe('nextBackoff', () => {
  it('doubles up to the maximum and starts over after a stable run', () => {
    expect(nextBackoff(undefined, 10, o)).toBe(100);
    expect(nextBackoff(100, 10, o)).toBe(200);
    expect(nextBackoff(800, 10, o)).toBe(1000);
    expect(nextBackoff(1000, 10, o)).toBe(1000);
    expect(nextBackoff(1000, 5000, o)).toBe(100);
  });
});

describe('supervise (real child processes)', () => {
  jest.setTimeout(60_000);

  it('restarts a child killed with SIGKILL, and stops it for good on stop()', async () => {
    const lines: string[] = [];
    const s = supervise('sleeper', () => startChild('sleeper', entry, [], { ...process.env }, undefined, () => undefined), { initialBackoffMs: 50, log: (m) => lines.push(m) });
    const first = s.current();
    await first.ready;
    process.kill(first.proc.pid!, 'SIGKILL');
    await first.exited;
    const deadline = Date.now() + 30_000;
    while (s.current() === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const second = s.current();
    await second.ready;
    expect(second.proc.pid).not.toBe(first.proc.pid);
    expect(s.restarts()).toBe(1);
    expect(lines.join('\n')).toMatch(/sleeper exited unexpectedly \(code null\); restarting in 50 ms/);
    await s.stop(stopChild);
    expect(second.proc.exitCode !== null || second.proc.signalCode !== null).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.current()).toBe(second); // not restarted after stop
  });

  it('gives up after maxCrashes crashes within the window, and says so', async () => {
    const lines: string[] = [];
    const s = supervise('crasher', () => startChild('crasher', entry, [], { ...process.env, SUPERVISED_EXIT_CODE: '3' }, undefined, () => undefined), {
      initialBackoffMs: 20,
      maxCrashes: 3,
      log: (m) => lines.push(m),
    });
    await s.gaveUp;
    expect(s.restarts()).toBe(2);
    expect(lines[lines.length - 1]).toMatch(/crasher exited \(code 3\) 3 times within 300 s: not restarted again/);
    await s.stop(stopChild);
  });
});
