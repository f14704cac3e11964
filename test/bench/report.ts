/**
 * How a benchmark hands its figures to `npm run bench` (test/bench/run.ts): each figure with the
 * ceiling it was measured against in the same run (cp of the same bytes, raw loopback TCP, ...).
 * When BENCH_RESULTS names a file, every recorded figure is appended to it as one JSON line;
 * alone, a benchmark prints its own tables as before.
 */
import * as fs from 'node:fs';

export interface BenchFigure {
  readonly bench: string;
  /** what was measured, e.g. "256 KiB produce acks=-1" */
  readonly figure: string;
  readonly value: number;
  /** e.g. MB/s, changes/s, ms */
  readonly unit: string;
  /** the ceiling measured in the same run, in the same unit */
  readonly ceiling?: { readonly name: string; readonly value: number };
  /** true when a smaller value is better (durations): the ratio is then ceiling/value */
  readonly lowerIsBetter?: boolean;
  readonly goal?: string;
}

export function record(f: BenchFigure): void {
  const file = process.env.BENCH_RESULTS;
  if (file) fs.appendFileSync(file, `${JSON.stringify(f)}\n`);
}

/** value relative to its ceiling (1.00 = as fast as the ceiling). */
export function ratioOf(f: BenchFigure): number | undefined {
  if (!f.ceiling || f.value === 0) return undefined;
  return f.lowerIsBetter ? f.ceiling.value / f.value : f.value / f.ceiling.value;
}

/** Seconds to make `requests` calls of `send`, `inFlight` at a time (a producer's pipelined requests). */
export async function timedRequests(requests: number, inFlight: number, send: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < requests) {
        next++;
        await send();
      }
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
