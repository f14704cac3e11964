/**
 * LSN allocation that survives restarts: LSNs are reserved on disk in chunks before any of
 * them is used, and a restart continues above the last reservation. Some LSNs are skipped
 * after a restart, none is ever reused: the stream stays strictly increasing per dbid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '@deltaflow/core';

export class LsnStore {
  private next: number;
  private reservedUpTo: number;

  constructor(
    private readonly file: string,
    private readonly chunk = 10_000,
  ) {
    let reserved = 0;
    if (fs.existsSync(file)) {
      const v = JSON.parse(fs.readFileSync(file, 'utf8')) as { reservedUpTo?: unknown };
      if (!Number.isSafeInteger(v.reservedUpTo) || (v.reservedUpTo as number) < 0) throw new Error(`${file}: reservedUpTo is not a non-negative integer`);
      reserved = v.reservedUpTo as number;
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
    }
    this.reservedUpTo = reserved;
    this.next = reserved + 1;
  }

  /** The next LSN (strictly above every LSN handed out before, in this or an earlier run). */
  take(): number {
    if (this.next > this.reservedUpTo) {
      this.reservedUpTo = this.next + this.chunk - 1;
      writeFileAtomic(this.file, JSON.stringify({ reservedUpTo: this.reservedUpTo }));
    }
    return this.next++;
  }

  /** The last LSN handed out (0 before any). */
  get last(): number {
    return this.next - 1;
  }
}
