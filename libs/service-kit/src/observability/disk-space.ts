/**
 * A nearly-full disk is reported before anything fails (issue 13, "Refusal, not loss"): a
 * service with a data directory (the save writer's data sets, the broker's log directory, the
 * multiplexer's devices) watches the free space of each of its directories (fs.statfs), exposes
 * it as metrics, says once in its log when a directory falls below the threshold (and once when
 * it recovers), and `check()`s before a write whose size it knows: a save that would not fit is
 * refused with DISK_NEARLY_FULL instead of failing midway.
 *
 * The threshold is the larger of DELTAFLOW_DISK_MIN_FREE_BYTES (default 256 MiB) and
 * DELTAFLOW_DISK_MIN_FREE_PERCENT of the file system (default 1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CodedError } from '@deltaflow/core';
import { bytesFromEnv, intFromEnv } from '../config/service-config';
import { registerGauges, type Sample } from './metrics';

export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MIN_FREE_PERCENT = 1;

export interface DiskSpaceThreshold {
  readonly minFreeBytes: number;
  readonly minFreePercent: number;
}

export function diskThresholdFromEnv(env: NodeJS.ProcessEnv = process.env): DiskSpaceThreshold {
  return {
    minFreeBytes: bytesFromEnv('DELTAFLOW_DISK_MIN_FREE_BYTES', env) ?? DEFAULT_MIN_FREE_BYTES,
    minFreePercent: intFromEnv('DELTAFLOW_DISK_MIN_FREE_PERCENT', DEFAULT_MIN_FREE_PERCENT, 0, 99, env),
  };
}

/** Refusal of a write that would leave its file system below the threshold. */
export class DiskNearlyFullError extends CodedError<'DISK_NEARLY_FULL'> {
  constructor(message: string) {
    super('DISK_NEARLY_FULL', message, { retriable: false });
  }
}

export interface DiskSpace {
  readonly path: string;
  /** bytes an unprivileged writer may still use */
  readonly freeBytes: number;
  readonly totalBytes: number;
  /** the threshold for this file system: max(minFreeBytes, minFreePercent % of total) */
  readonly minFreeBytes: number;
}

/** The free space of the file system holding `dir` (its nearest existing ancestor when it does not exist yet). */
export function diskSpace(dir: string, threshold: DiskSpaceThreshold = diskThresholdFromEnv()): DiskSpace {
  let p = path.resolve(dir);
  while (!fs.existsSync(p) && path.dirname(p) !== p) p = path.dirname(p);
  const s = fs.statfsSync(p);
  const totalBytes = Number(s.blocks) * Number(s.bsize);
  return { path: dir, freeBytes: Number(s.bavail) * Number(s.bsize), totalBytes, minFreeBytes: Math.max(threshold.minFreeBytes, Math.ceil((totalBytes * threshold.minFreePercent) / 100)) };
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

export interface DiskSpaceWatchOptions {
  /** the directories to watch, by a label shown in the metrics (e.g. {datasets: '/data/datasets'}) */
  readonly dirs: Readonly<Record<string, string>>;
  readonly threshold?: DiskSpaceThreshold;
  /** how often the log is told about a crossing (default 30 s); the metrics are read at each scrape */
  readonly intervalMs?: number;
  readonly log: (m: string) => void;
}

/** Watches directories' free space: metrics, a warning below the threshold, and check() before a write. */
export class DiskSpaceWatch {
  private readonly threshold: DiskSpaceThreshold;
  private readonly low = new Set<string>();
  private timer?: NodeJS.Timeout;
  private unregister?: () => void;

  constructor(private readonly o: DiskSpaceWatchOptions) {
    this.threshold = o.threshold ?? diskThresholdFromEnv();
  }

  start(): this {
    const read = (f: (s: DiskSpace) => number) => () =>
      Object.entries(this.o.dirs).flatMap(([name, dir]): Sample[] => {
        try {
          const s = diskSpace(dir, this.threshold);
          return [[{ dir: name, path: dir }, f(s)]];
        } catch {
          return [];
        }
      });
    this.unregister = registerGauges({
      deltaflow_disk_free_bytes: { help: 'Free bytes of the file system holding each data directory (fs.statfs, available to the service)', labelNames: ['dir', 'path'], read: read((s) => s.freeBytes) },
      deltaflow_disk_total_bytes: { help: 'Size of the file system holding each data directory', labelNames: ['dir', 'path'], read: read((s) => s.totalBytes) },
      deltaflow_disk_min_free_bytes: { help: 'The free space below which the directory is nearly full (DELTAFLOW_DISK_MIN_FREE_BYTES / _PERCENT)', labelNames: ['dir', 'path'], read: read((s) => s.minFreeBytes) },
      deltaflow_disk_nearly_full: { help: '1 when the file system holding the directory has less free space than the threshold', labelNames: ['dir', 'path'], read: read((s) => (s.freeBytes < s.minFreeBytes ? 1 : 0)) },
    });
    this.poll();
    this.timer = setInterval(() => this.poll(), this.o.intervalMs ?? 30_000);
    this.timer.unref();
    return this;
  }

  /** Says once when a directory falls below the threshold, and once when it is above it again. */
  poll(): void {
    for (const [name, dir] of Object.entries(this.o.dirs)) {
      let s: DiskSpace;
      try {
        s = diskSpace(dir, this.threshold);
      } catch (e) {
        this.o.log(`disk space of ${name} (${dir}) unknown: ${(e as Error).message}`);
        continue;
      }
      if (s.freeBytes < s.minFreeBytes && !this.low.has(name)) {
        this.low.add(name);
        this.o.log(`WARNING: disk nearly full: ${name} (${dir}) has ${mib(s.freeBytes)} free of ${mib(s.totalBytes)}, below the threshold of ${mib(s.minFreeBytes)}; writes that would not fit are refused (DISK_NEARLY_FULL)`);
      } else if (s.freeBytes >= s.minFreeBytes && this.low.delete(name)) {
        this.o.log(`disk space of ${name} (${dir}) is above the threshold again: ${mib(s.freeBytes)} free`);
      }
    }
  }

  /** Throws DiskNearlyFullError when writing `bytes` into `dir` would leave less than the threshold free. */
  check(dir: string, bytes: number, what: string): void {
    const s = diskSpace(dir, this.threshold);
    if (s.freeBytes - bytes < s.minFreeBytes)
      throw new DiskNearlyFullError(
        `${what} needs about ${mib(bytes)} in ${dir}, which has ${mib(s.freeBytes)} free; the service keeps at least ${mib(s.minFreeBytes)} free (DELTAFLOW_DISK_MIN_FREE_BYTES / DELTAFLOW_DISK_MIN_FREE_PERCENT): refused before writing anything. Free space (dsf expire with a retention, dsf retention set) or lower the threshold`,
      );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.unregister?.();
  }
}
