/**
 * The broker's data directory nearly full is said before a produce fails (issue 13): every
 * 30 s the free space of its file system (fs.statfs) is compared with the threshold the
 * services use (the larger of DELTAFLOW_DISK_MIN_FREE_BYTES, default 256 MiB, and
 * DELTAFLOW_DISK_MIN_FREE_PERCENT of the file system, default 1), and a crossing is written to
 * stderr once each way. The embedded broker serves no metrics; a real Kafka has its own.
 */
import * as fs from 'node:fs';

const MiB = 1024 * 1024;

function threshold(total: number, env: NodeJS.ProcessEnv): number {
  const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$/i.exec(env.DELTAFLOW_DISK_MIN_FREE_BYTES ?? '');
  const unit = { b: 1, kib: 1024, mib: MiB, gib: 1024 * MiB }[(m?.[2] ?? 'b').toLowerCase() as 'b'] ?? 1;
  const bytes = m ? Number(m[1]) * unit : 256 * MiB;
  const pct = /^\s*\d+\s*$/.test(env.DELTAFLOW_DISK_MIN_FREE_PERCENT ?? '') ? Number(env.DELTAFLOW_DISK_MIN_FREE_PERCENT) : 1;
  return Math.max(bytes, Math.ceil((total * pct) / 100));
}

/** Starts the watch; returns its stop. */
export function watchDataDirSpace(dir: string, write: (line: string) => void, env: NodeJS.ProcessEnv = process.env, intervalMs = 30_000): () => void {
  let low = false;
  const poll = () => {
    try {
      const s = fs.statfsSync(dir);
      const total = Number(s.blocks) * Number(s.bsize);
      const free = Number(s.bavail) * Number(s.bsize);
      const min = threshold(total, env);
      if (free < min && !low) write(`embedded-kafka: WARNING: disk nearly full: ${dir} has ${(free / MiB).toFixed(0)} MiB free of ${(total / MiB).toFixed(0)} MiB, below ${(min / MiB).toFixed(0)} MiB (topic retention frees space; see docs/ARCHITECTURE.md "Retention")`);
      else if (free >= min && low) write(`embedded-kafka: disk space of ${dir} above the threshold again: ${(free / MiB).toFixed(0)} MiB free`);
      low = free < min;
    } catch {
      /* a directory being recreated: the next poll says */
    }
  };
  poll();
  const t = setInterval(poll, intervalMs);
  t.unref();
  return () => clearInterval(t);
}
