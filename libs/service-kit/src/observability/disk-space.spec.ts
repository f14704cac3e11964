import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diskSpace, diskThresholdFromEnv, DiskSpaceWatch } from './disk-space';
import { metricsText } from './metrics';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'disk-space-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('disk space', () => {
  it('reads the free space of the file system holding a directory (or its nearest existing parent)', () => {
    const s = diskSpace(path.join(dir, 'not', 'yet'), { minFreeBytes: 1, minFreePercent: 0 });
    expect(s.freeBytes).toBeGreaterThan(0);
    expect(s.totalBytes).toBeGreaterThanOrEqual(s.freeBytes);
  });

  it('refuses a write that would leave less than the threshold free, before anything is written (DISK_NEARLY_FULL)', () => {
    const free = diskSpace(dir, { minFreeBytes: 1, minFreePercent: 0 }).freeBytes;
    const lines: string[] = [];
    const watch = new DiskSpaceWatch({ dirs: { datasets: dir }, threshold: { minFreeBytes: free * 2, minFreePercent: 0 }, log: (l) => lines.push(l) });
    expect(() => watch.check(dir, 1024, 'save s1 (1 block)')).toThrow(expect.objectContaining({ code: 'DISK_NEARLY_FULL', message: expect.stringMatching(/save s1 \(1 block\) needs about .* refused before writing anything/) }));
    const roomy = new DiskSpaceWatch({ dirs: { datasets: dir }, threshold: { minFreeBytes: 1, minFreePercent: 0 }, log: (l) => lines.push(l) });
    expect(() => roomy.check(dir, 1024, 'save s2')).not.toThrow();
    expect(() => roomy.check(dir, free * 2, 'a save larger than the disk')).toThrow(expect.objectContaining({ code: 'DISK_NEARLY_FULL' }));
  });

  it('exposes the free space as metrics and warns once below the threshold, once when above again', async () => {
    const lines: string[] = [];
    const free = diskSpace(dir, { minFreeBytes: 1, minFreePercent: 0 }).freeBytes;
    const threshold = { minFreeBytes: free * 2, minFreePercent: 0 };
    const watch = new DiskSpaceWatch({ dirs: { datasets: dir }, threshold, log: (l) => lines.push(l) }).start();
    try {
      watch.poll();
      expect(lines.filter((l) => /WARNING: disk nearly full: datasets/.test(l))).toHaveLength(1);
      const text = await metricsText();
      expect(text).toMatch(new RegExp(`deltaflow_disk_free_bytes\\{dir="datasets",path="${dir.replace(/[/.]/g, '\\$&')}"\\} \\d+`));
      expect(text).toMatch(/deltaflow_disk_nearly_full\{dir="datasets",[^}]*\} 1/);
      threshold.minFreeBytes = 1;
      watch.poll();
      expect(lines[lines.length - 1]).toMatch(/above the threshold again/);
    } finally {
      watch.stop();
    }
  });

  it('takes its threshold from the environment, and refuses a bad one', () => {
    expect(diskThresholdFromEnv({})).toEqual({ minFreeBytes: 256 * 1024 * 1024, minFreePercent: 1 });
    expect(diskThresholdFromEnv({ DELTAFLOW_DISK_MIN_FREE_BYTES: '2GiB', DELTAFLOW_DISK_MIN_FREE_PERCENT: '5' })).toEqual({ minFreeBytes: 2 * 1024 ** 3, minFreePercent: 5 });
    expect(() => diskThresholdFromEnv({ DELTAFLOW_DISK_MIN_FREE_PERCENT: '100' })).toThrow(/DELTAFLOW_DISK_MIN_FREE_PERCENT/);
  });
});
