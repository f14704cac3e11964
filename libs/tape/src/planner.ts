import { TapeValidationError } from './errors';

/*
 * Restore planner (pure): several restores of one stream ask for client files; their runs are
 * sorted by (volume, position); a gap between two wanted runs shorter than `readThroughGap` is
 * read through (streaming past it costs less than a LOCATE), a longer one is located past;
 * adjacent runs become one read; a run wanted by several restores is read once and delivered to
 * each. The executor (reader.ts) follows the plan on a device and hands every restore its own
 * client file, in order.
 */

/** One run a restore wants (from the catalog's placements). */
export interface RestoreRun {
  readonly volser: string;
  readonly position: number;
  /** extent in position units */
  readonly extent: number;
  readonly incarnation: string;
  readonly firstSeq: number;
  readonly count: number;
  /** sequence range to deliver from this run (default: the whole run) */
  readonly from?: number;
  readonly to?: number;
  /** content CRC per superblock from the catalog, checked against each header when given */
  readonly crcs?: readonly number[];
}

export interface RestoreRequest {
  /** the restore's id (the sink it is delivered to) */
  readonly restore: string;
  readonly incarnation: string;
  /** runs covering superblocks 0..n-1 of the client file, any order */
  readonly runs: readonly RestoreRun[];
}

export interface PlannedDelivery {
  readonly restore: string;
  readonly from: number;
  readonly to: number;
}

export interface PlannedRun {
  readonly position: number;
  readonly extent: number;
  readonly incarnation: string;
  readonly firstSeq: number;
  readonly count: number;
  readonly crcs?: readonly number[];
  readonly deliveries: PlannedDelivery[];
}

/** One contiguous read of a volume, from `position` for `extent` units, holding `runs`. */
export interface PlannedRead {
  readonly volser: string;
  readonly position: number;
  readonly extent: number;
  readonly runs: PlannedRun[];
}

export interface ReadPlan {
  readonly reads: PlannedRead[];
  /** units of wanted runs */
  readonly wanted: number;
  /** units read through and discarded */
  readonly readThrough: number;
  /** per restore: the last sequence number it receives */
  readonly lastSeq: Record<string, number>;
  /** the threshold planned with: the executor also reads through from where the head stands when it is this close */
  readonly readThroughGap: number;
}

export interface PlanOptions {
  /** gaps (position units) shorter than this are read through; the device's `readThroughGap` is a good value */
  readonly readThroughGap: number;
  /** order of volumes (stream-file sequence); others follow by volser */
  readonly volumeOrder?: readonly string[];
  /** per restore, the first superblock it still needs (default 0): a pass planned again part way */
  readonly startAt?: Readonly<Record<string, number>>;
}

/** Plans the reads for several restores of one stream. Throws TapeValidationError for inconsistent requests. */
export function planRestores(requests: readonly RestoreRequest[], opts: PlanOptions): ReadPlan {
  if (!(opts.readThroughGap >= 0)) throw new TapeValidationError('readThroughGap must be ≥ 0', 'readThroughGap');
  const restores = new Set<string>();
  const runs = new Map<string, { run: RestoreRun; deliveries: PlannedDelivery[] }>();
  const lastSeq: Record<string, number> = {};
  for (const req of requests) {
    if (restores.has(req.restore)) throw new TapeValidationError(`restore ${req.restore} requested twice`, 'restore');
    restores.add(req.restore);
    const ranges = req.runs
      .map((r) => {
        if (r.incarnation !== req.incarnation) throw new TapeValidationError(`restore ${req.restore}: a run of ${r.incarnation} in a request for ${req.incarnation}`, 'runs');
        if (!(r.count >= 1 && r.extent >= 1 && r.position >= 0)) throw new TapeValidationError(`restore ${req.restore}: run at ${r.volser}@${r.position} is empty`, 'runs');
        const from = r.from ?? r.firstSeq;
        const to = r.to ?? r.firstSeq + r.count - 1;
        if (from < r.firstSeq || to > r.firstSeq + r.count - 1 || from > to) throw new TapeValidationError(`restore ${req.restore}: range ${from}..${to} outside its run`, 'runs');
        return { r, from, to };
      })
      .sort((a, b) => a.from - b.from);
    let need = opts.startAt?.[req.restore] ?? 0;
    for (const x of ranges) {
      if (x.from !== need) throw new TapeValidationError(`restore ${req.restore}: superblocks ${need}..${x.from - 1} are not covered (or covered twice)`, 'runs');
      need = x.to + 1;
      const key = `${x.r.volser}@${x.r.position}`;
      let slot = runs.get(key);
      if (!slot) runs.set(key, (slot = { run: x.r, deliveries: [] }));
      else if (slot.run.incarnation !== x.r.incarnation || slot.run.firstSeq !== x.r.firstSeq || slot.run.count !== x.r.count || slot.run.extent !== x.r.extent)
        throw new TapeValidationError(`two different runs claim ${key}`, 'runs');
      slot.deliveries.push({ restore: req.restore, from: x.from, to: x.to });
    }
    if (ranges.length === 0) throw new TapeValidationError(`restore ${req.restore}: no runs`, 'runs');
    lastSeq[req.restore] = need - 1;
  }
  const order = new Map((opts.volumeOrder ?? []).map((v, i) => [v, i]));
  const cmpVol = (a: string, b: string) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9) || (a < b ? -1 : a > b ? 1 : 0);
  const sorted = [...runs.values()].sort((a, b) => cmpVol(a.run.volser, b.run.volser) || a.run.position - b.run.position);
  const reads: Array<{ volser: string; position: number; extent: number; runs: PlannedRun[] }> = [];
  let wanted = 0;
  let readThrough = 0;
  for (const { run, deliveries } of sorted) {
    const planned: PlannedRun = {
      position: run.position,
      extent: run.extent,
      incarnation: run.incarnation,
      firstSeq: run.firstSeq,
      count: run.count,
      ...(run.crcs ? { crcs: run.crcs } : {}),
      deliveries,
    };
    wanted += run.extent;
    const cur = reads[reads.length - 1];
    const curEnd = cur ? cur.position + cur.extent : 0;
    if (cur && cur.volser === run.volser && run.position < curEnd) throw new TapeValidationError(`runs overlap at ${run.volser}@${run.position}`, 'runs');
    if (cur && cur.volser === run.volser && run.position - curEnd <= opts.readThroughGap) {
      readThrough += run.position - curEnd;
      cur.extent = run.position + run.extent - cur.position;
      cur.runs.push(planned);
    } else {
      reads.push({ volser: run.volser, position: run.position, extent: run.extent, runs: [planned] });
    }
  }
  return { reads, wanted, readThrough, lastSeq, readThroughGap: opts.readThroughGap };
}
