import * as fs from 'node:fs';
import * as path from 'node:path';
import { geometryEquals } from '@deltaflow/blocks';
import type { DataSetDescriptor } from '@deltaflow/dsid';
import { readSaveHeader, SaveHeader, toDescriptor } from '@deltaflow/save-format';
import { MergeError, MergeErrorCode } from './errors';

/** One input data set, known by its header only. */
export interface InputSet {
  readonly path: string;
  readonly header: SaveHeader;
  readonly descriptor: DataSetDescriptor;
  /** file size in bytes (for progress) */
  readonly size: number;
}

/** Reads and verifies the headers of all inputs (no block is read); rejects duplicate paths. */
export async function loadInputs(paths: readonly string[]): Promise<InputSet[]> {
  if (!Array.isArray(paths) || paths.length === 0) throw new MergeError('VALIDATION', 'no input data sets');
  const seen = new Set<string>();
  for (const p of paths) {
    if (typeof p !== 'string' || p.length === 0) throw new MergeError('VALIDATION', 'input paths must be non-empty strings');
    const abs = path.resolve(p);
    if (seen.has(abs)) throw new MergeError('VALIDATION', `input given twice: ${p}`, [p]);
    seen.add(abs);
  }
  const out: InputSet[] = [];
  for (const p of paths) {
    const header = await readSaveHeader(p);
    out.push({ path: p, header, descriptor: toDescriptor(p, header), size: (await fs.promises.stat(p)).size });
  }
  return out;
}

/** Throws `code` unless all inputs have the same dbid and geometry. */
export function checkSameShape(inputs: readonly InputSet[], code: MergeErrorCode): void {
  const first = inputs[0];
  for (const i of inputs) {
    if (i.header.dbid !== first.header.dbid)
      throw new MergeError(code, `dbid ${i.header.dbid} differs from ${first.header.dbid}`, [first.path, i.path]);
    if (!geometryEquals(i.header.geometry, first.header.geometry))
      throw new MergeError(code, 'database geometry (block sizes, area sizes, files) differs', [first.path, i.path]);
  }
}

/** Orders input sets like the descriptors a DSID rule check returned (matched by name). */
export function inPlanOrder(inputs: readonly InputSet[], plan: readonly DataSetDescriptor[]): InputSet[] {
  return plan.map((d) => {
    const i = inputs.find((x) => x.path === d.name);
    if (!i) throw new MergeError('VALIDATION', `rule check returned an unknown input ${d.name}`);
    return i;
  });
}

/** Default fan-in: how many data sets one k-way pass reads at once. */
export const DEFAULT_FAN_IN = 32;

/** Checks a fan-in option (an integer of at least 2; default DEFAULT_FAN_IN). */
export function fanInOf(fanIn: number | undefined): number {
  if (fanIn === undefined) return DEFAULT_FAN_IN;
  if (!Number.isInteger(fanIn) || fanIn < 2 || fanIn > 4096)
    throw new MergeError('VALIDATION', `fanIn must be an integer in 2..4096, got ${String(fanIn)}`);
  return fanIn;
}

/**
 * Read chunk per input when `k` inputs are read at once: 256 KiB (two buffers a reader), so a
 * pass of k inputs holds 0.5 MiB x k of read buffers, 16 MiB at the default fan-in. Larger reads
 * are slower on the machines measured (see @deltaflow/save-format ReaderOptions.chunkBytes).
 */
export function chunkFor(_k: number): number {
  return 256 << 10;
}
