import type { Throttle } from '@deltaflow/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateMerge } from '@deltaflow/dsid';
import type { Dsid } from '@deltaflow/dsid';
import {
  DataSetWriter,
  partialPath,
  type DataSetSink,
  type DataSetTarget,
  ReaderOptions,
  SaveFormatError,
  SaveHeader,
  WriterOptions,
  WrittenDataSet,
} from '@deltaflow/save-format';
import { MergeError } from './errors';
import { checkSameShape, fanInOf, inPlanOrder, loadInputs } from './inputs';
import { PassProgress, runPass } from './pass';

export interface MergeRequest {
  /** paths of the input data sets, in any order (the DSID rules order them); any number */
  readonly inputs: readonly string[];
  /** path of the new data set; must not exist (with `sink`: its name, and where cascade temporaries go) */
  readonly output: string;
  /**
   * The new data set goes to this sink (a client file on a stream) instead of the file `output`:
   * called once, with the output's header, before the final pass.
   */
  readonly sink?: (header: SaveHeader) => Promise<DataSetSink>;
  /** reject (MergeError FULL_REQUIRED, nothing written) unless a full save is among the inputs */
  readonly requireFull?: boolean;
  /**
   * Most inputs one k-way pass reads at once (default 32). With more inputs, consecutive groups of
   * the validated plan are merged first into temporary data sets next to the output, then those.
   */
  readonly fanIn?: number;
  /** apply ADASAV's eight-delta limit (DSID rule AT_MOST_EIGHT_DELTAS) */
  readonly seedLimits?: boolean;
  readonly writer?: WriterOptions;
  readonly reader?: ReaderOptions;
  /** holds the input bytes read to a rate (shared by every operation given the same Throttle) */
  readonly throttle?: Throttle;
  /** stops the merge between blocks (MergeError INTERRUPTED); no output and no temporary is left */
  readonly signal?: AbortSignal;
  /**
   * Input bytes read so far over the bytes all passes will read: called every ~1000 blocks and at
   * the end (bytesDone = bytesTotal). With a cascade, bytesTotal starts as an estimate (each
   * temporary as large as its inputs) and is revised down once the temporaries are written.
   */
  readonly onProgress?: (p: MergeProgress) => void;
}

export interface MergeProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface MergeResult {
  readonly dsid: Dsid;
  readonly kind: 'full' | 'delta';
  /** input paths in apply order (oldest first, newest wins) */
  readonly applied: readonly string[];
  readonly output: WrittenDataSet;
  /** an `original-dsim` input (a copy of the original DSIM) was merged: the caller may free the DSIM */
  readonly usedOriginalDsim: boolean;
  /** k-way passes into temporary data sets before the final one (0 when inputs <= fanIn) */
  readonly cascadePasses: number;
}

/** Name of the i-th temporary data set of cascade level `level` of a merge into `output`. */
export const cascadePath = (output: string, level: number, i: number): string => `${output}.cascade-${level}-${i}`;

/**
 * Merges save data sets into one new offline full or consolidated delta save. All headers are
 * checked first (DSID rules via validateMerge, then same dbid and geometry) before any block is
 * read; then a k-way merge copies each block once from the newest input holding it. The output
 * appears under its name only if every input verified to its trailer.
 *
 * Any number of inputs: beyond `fanIn`, consecutive groups of the plan (oldest first) are merged
 * into temporary data sets `<output>.cascade-<level>-<i>` and those are merged in turn. Newest-wins
 * holds across groups because groups are consecutive in apply order and a temporary keeps the
 * newest image of its group. Memory is bounded by the fan-in, not by the number of inputs or the
 * database size. Temporaries are removed whatever happens.
 *
 * Throws DsidRuleError (MERGE_INPUT_INVALID, with the rule), MergeError, or SaveFormatError.
 */
export async function mergeDataSets(req: MergeRequest): Promise<MergeResult> {
  const fanIn = fanInOf(req.fanIn);
  const inputs = await loadInputs(req.inputs);
  const plan = validateMerge(
    inputs.map((i) => i.descriptor),
    { seedLimits: req.seedLimits },
  );
  checkSameShape(inputs, 'MERGE_INPUT_INVALID');
  if (req.requireFull && plan.outputKind !== 'full')
    throw new MergeError('FULL_REQUIRED', 'a full result was requested but no full save is among the inputs', req.inputs);
  if (!req.sink && fs.existsSync(req.output)) throw new SaveFormatError('ALREADY_EXISTS', `${req.output} exists`);
  const ordered = inPlanOrder(inputs, plan.inputs);
  const first = ordered[0].header;
  const endLsn = Math.max(...ordered.map((i) => i.header.endLsn));
  const header: SaveHeader = {
    dbid: first.dbid,
    dsid: plan.output,
    kind: plan.outputKind,
    online: false, // a merge output is always "offline": DSIM images are folded in
    // The output is consistent as of the newest end sync among its inputs.
    startLsn: endLsn,
    endLsn,
    geometry: first.geometry,
  };

  const inputBytes = ordered.reduce((n, i) => n + i.size, 0);
  const levels = cascadeLevels(ordered.length, fanIn);
  const progress = new PassProgress(inputBytes * (levels + 1), req.onProgress);
  const temps: string[] = [];
  try {
    let level: { path: string; size: number }[] = ordered.map((i) => ({ path: i.path, size: i.size }));
    let stage = 0;
    let estimated = inputBytes * levels; // bytes the remaining cascade levels will read, estimated
    while (level.length > fanIn) {
      const next: { path: string; size: number }[] = [];
      for (let g = 0; g < level.length; g += fanIn) {
        const group = level.slice(g, g + fanIn);
        if (group.length === 1) {
          next.push(group[0]);
          continue;
        }
        const tmp = cascadePath(req.output, stage, g / fanIn);
        temps.push(tmp);
        // A temporary is internal: never fsynced, never checked by the DSID rules, removed at the end.
        const w = await writeMerged(group.map((x) => x.path), tmp, header, { ...req.writer, fsync: false }, req, progress);
        next.push({ path: tmp, size: w.bytes });
      }
      // The next level reads these temporaries: replace this level's estimate by their real size.
      estimated -= inputBytes;
      progress.total = progress.done + next.reduce((n, x) => n + x.size, 0) + estimated;
      level = next;
      stage++;
    }
    const target: DataSetTarget = req.sink ? { sink: await req.sink(header), name: path.basename(req.output) } : req.output;
    const output = await writeMerged(level.map((x) => x.path), target, header, req.writer, req, progress);
    progress.total = progress.done;
    progress.tick(true);
    return {
      dsid: plan.output,
      kind: plan.outputKind,
      applied: ordered.map((i) => i.path),
      output,
      usedOriginalDsim: plan.inputs.some((d) => d.kind === 'original-dsim'),
      cascadePasses: temps.length,
    };
  } finally {
    for (const t of temps) {
      fs.rmSync(t, { force: true });
      fs.rmSync(partialPath(t), { force: true });
    }
  }
}

/** Number of cascade levels before the final pass for n inputs and fan-in f. */
function cascadeLevels(n: number, f: number): number {
  let levels = 0;
  while (n > f) {
    n = Math.ceil(n / f);
    levels++;
  }
  return levels;
}

/** One k-way pass over `paths` (oldest first) into a new data set at `out`; nothing is left at `out` on failure (a sink is aborted). */
async function writeMerged(
  paths: readonly string[],
  out: DataSetTarget,
  header: SaveHeader,
  writerOptions: WriterOptions | undefined,
  req: MergeRequest,
  progress: PassProgress,
): Promise<WrittenDataSet> {
  const writer = await DataSetWriter.create(out, header, writerOptions);
  try {
    await runPass(
      paths,
      (r) => {
        if (!writer.tryWriteRawRecord(r.area, r.rabn, r.raw, r.crc)) return writer.writeRawRecord(r.area, r.rabn, r.raw, r.crc);
      },
      { reader: req.reader, throttle: req.throttle, signal: req.signal, progress, interrupted: 'merge stopped on request' },
    );
    return await writer.finish();
  } catch (e) {
    await writer.abort((e as Error).message);
    throw e;
  }
}
