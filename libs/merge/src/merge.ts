import { validateMerge } from '@deltaflow/dsid';
import type { Dsid } from '@deltaflow/dsid';
import { ReaderOptions, DataSetReader, DataSetWriter, WriterOptions, WrittenDataSet } from '@deltaflow/save-format';
import { MergeError } from './errors';
import { checkSameShape, inPlanOrder, loadInputs } from './inputs';
import { KWayMerge } from './kway';

export interface MergeRequest {
  /** paths of the input data sets, in any order (the DSID rules order them) */
  readonly inputs: readonly string[];
  /** path of the new data set; must not exist */
  readonly output: string;
  readonly writer?: WriterOptions;
  readonly reader?: ReaderOptions;
  /** stops the merge between blocks (MergeError INTERRUPTED); no output is left */
  readonly signal?: AbortSignal;
}

export interface MergeResult {
  readonly dsid: Dsid;
  readonly kind: 'full' | 'delta';
  /** input paths in apply order (oldest first, newest wins) */
  readonly applied: readonly string[];
  readonly output: WrittenDataSet;
}

/**
 * Merges save data sets into one new offline full or consolidated delta save. All headers are
 * checked first (DSID rules via validateMerge, then same dbid and geometry) before any block is
 * read; then a k-way merge copies each block once from the newest input holding it. The output
 * appears under its name only if every input verified to its trailer.
 * Throws DsidRuleError (MERGE_INPUT_INVALID), MergeError, or SaveFormatError.
 */
export async function mergeDataSets(req: MergeRequest): Promise<MergeResult> {
  const inputs = await loadInputs(req.inputs);
  const plan = validateMerge(inputs.map((i) => i.descriptor));
  checkSameShape(inputs, 'MERGE_INPUT_INVALID');
  const ordered = inPlanOrder(inputs, plan.inputs);
  const first = ordered[0].header;
  const writer = await DataSetWriter.create(
    req.output,
    {
      dbid: first.dbid,
      dsid: plan.output,
      kind: plan.outputKind,
      online: false, // a merge output is always "offline": DSIM images are folded in
      // The output is consistent as of the newest end sync among its inputs.
      startLsn: Math.max(...ordered.map((i) => i.header.endLsn)),
      endLsn: Math.max(...ordered.map((i) => i.header.endLsn)),
      geometry: first.geometry,
    },
    req.writer,
  );
  const readers: DataSetReader[] = [];
  try {
    for (const i of ordered) readers.push(await DataSetReader.open(i.path, req.reader));
    const merge = await KWayMerge.start(readers);
    for (let n = 0; ; n++) {
      if ((n & 4095) === 0 && req.signal?.aborted) throw new MergeError('INTERRUPTED', 'merge stopped on request');
      // Synchronous fast paths first: an await per record would cost more than the copy itself.
      let r = merge.tryNext();
      if (r === undefined) r = await merge.next();
      if (!r) break;
      if (!writer.tryWriteRawRecord(r.area, r.rabn, r.raw, r.crc)) await writer.writeRawRecord(r.area, r.rabn, r.raw, r.crc);
    }
    const output = await writer.finish();
    return { dsid: plan.output, kind: plan.outputKind, applied: ordered.map((i) => i.path), output };
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    for (const r of readers) await r.close();
  }
}
