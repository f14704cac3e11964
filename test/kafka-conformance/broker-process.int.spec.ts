import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedKafka } from '@deltaflow/embedded-kafka';
import { client, consumeUntil, uniqueName } from './kafka-helpers';
import { brokerProcessFails, processState, startBrokerProcess, type BrokerProcess } from './broker-process';

/** The broker as a process: its data-directory lock under kill -9 and restarts. */
describe('embedded broker process: data-directory lock', () => {
  const started: BrokerProcess[] = [];
  const dirs: string[] = [];
  const tempDir = (prefix: string) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const b of started) {
      try {
        process.kill(b.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      b.cleanup();
    }
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('restarts at once after kill -9 while the killed broker is still an unreaped zombie, 12 times in a row', async () => {
    const dir = tempDir('ek-lock-');
    const topic = uniqueName('restart');
    let b = await startBrokerProcess(dir, ['--fsync', 'never'], { unreaped: true });
    started.push(b);
    for (let i = 0; i < 12; i++) {
      const producer = client([b.listening], { retry: { retries: 2 } }).producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ value: `life-${i}` }] });
      await producer.disconnect();
      await b.kill9();
      expect(processState(b.pid)).toBe('Z'); // dead but not reaped: exactly what a pid file cannot see through
      const next = await startBrokerProcess(dir, ['--fsync', 'never'], { unreaped: true });
      started.push(next);
      expect(processState(b.pid)).toBe('Z'); // the successor started while its predecessor was still a zombie
      b.cleanup();
      b = next;
    }
    const got = await consumeUntil(client([b.listening]), { groupId: uniqueName('g'), topic }, (g) => g.length >= 12);
    expect(got.map((m) => m.value.toString())).toEqual(Array.from({ length: 12 }, (_, i) => `life-${i}`));
    expect(await b.stop()).toBeNull();
  }, 180_000);

  it('still refuses a second live broker on the same directory, naming the holder pid', async () => {
    const dir = tempDir('ek-lock2-');
    const first = await startBrokerProcess(dir);
    started.push(first);
    const second = await brokerProcessFails(dir);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`data directory ${dir} is in use by another broker (pid ${first.pid})`);
    expect(fs.readFileSync(path.join(dir, 'broker.lock'), 'utf8').trim()).toBe(String(first.pid));
    // The same directory through a symlink is the same lock (the lock name comes from the real path).
    const link = path.join(tempDir('ek-link-'), 'alias');
    fs.symlinkSync(dir, link);
    await expect(startEmbeddedKafka({ dataDir: link, logLevel: 'silent' })).rejects.toThrow(/in use by another broker/);
    expect(await first.stop()).toBe(0);
    expect(fs.existsSync(path.join(dir, 'broker.lock'))).toBe(false);
    // Released: an in-process broker can take it now.
    const k = await startEmbeddedKafka({ dataDir: link, logLevel: 'silent' });
    await k.stop();
  }, 60_000);
});
