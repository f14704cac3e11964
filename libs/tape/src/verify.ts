import { RunEntry } from './format';
import { DelegatingDevice, Device, MountInfo } from './device';
import { scanVolume } from './scan';

/*
 * Verification of a volume (`dsf volumes verify VOLSER`): every record read and its header and body
 * CRC checked (a full scan), the trailer's index (or, on a volume torn before its trailer, the last
 * checkpoint's) compared with what the records say, and the catalog's runs on the volume compared
 * with both. Every problem names the volume and the position.
 */

/** A run as the catalog places it (RunPlaced). */
export interface ExpectedRun {
  readonly incarnation: string;
  readonly firstSeq: number;
  readonly count: number;
  readonly position: number;
  readonly extent: number;
  readonly crcs?: readonly number[];
}

export interface VerifyProblem {
  readonly volser: string;
  readonly position: number;
  /** damage: a record fails its CRC or is cut; index: the trailer/checkpoint disagrees with the records; catalog: the catalog disagrees with the volume */
  readonly kind: 'damage' | 'index' | 'catalog';
  readonly message: string;
}

export interface VolumeVerification {
  readonly volser: string;
  readonly ok: boolean;
  readonly records: { readonly runs: number; readonly superblocks: number; readonly checkpoints: number };
  /** what the index checked against the records came from */
  readonly index: 'trailer' | 'checkpoint' | 'none';
  readonly problems: VerifyProblem[];
  /** position units read */
  readonly read: number;
}

const sameRun = (a: Pick<RunEntry, 'incarnation' | 'firstSeq' | 'count' | 'extent'> & { crcs?: readonly number[] }, b: RunEntry) =>
  a.incarnation === b.incarnation && a.firstSeq === b.firstSeq && a.count === b.count && a.extent === b.extent && (!a.crcs || a.crcs.every((c, i) => c >>> 0 === b.crcs[i] >>> 0));

export interface VerifyOptions {
  /**
   * A volume still open for appending is verified up to here (its synced end: the end of its last
   * placed run), so a writer appending beyond it is neither waited for nor mistaken for damage; it
   * has no trailer yet, and may have no checkpoint.
   */
  readonly upTo?: number;
}

/** A device whose mounted volume ends at `upTo` (what lies beyond is not read). */
class CappedDevice extends DelegatingDevice {
  constructor(
    inner: Device,
    private readonly upTo: number,
  ) {
    super(inner);
  }
  override async mount(volser: string): Promise<MountInfo> {
    const info = await this.inner.mount(volser);
    return { ...info, end: Math.min(info.end, this.upTo) };
  }
  override end(): number {
    return Math.min(this.inner.end(), this.upTo);
  }
  override read(position: number, extent: number): Promise<Buffer[]> {
    return this.inner.read(position, Math.max(0, Math.min(extent, this.upTo - position)));
  }
}

/** Verifies one volume; `catalogRuns` are the catalog's placements on it (omit to check the volume alone). */
export async function verifyVolume(device: Device, volser: string, catalogRuns?: readonly ExpectedRun[], opts: VerifyOptions = {}): Promise<VolumeVerification> {
  const open = opts.upTo !== undefined;
  if (open) device = new CappedDevice(device, opts.upTo as number);
  const full = await scanVolume(device, volser, { mode: 'full' });
  const problems: VerifyProblem[] = full.damage.map((d) => ({
    volser,
    position: d.position,
    kind: 'damage' as const,
    message: `${d.kind} record at ${volser}@${d.position}: ${d.reason}${d.resumedAt !== null ? ` (reading resumed at ${d.resumedAt})` : ''}`,
  }));
  const recorded = new Map(full.runs.map((r) => [r.position, r]));
  // the index the volume carries: the trailer, or the last checkpoint when it was torn before it
  const fast = await scanVolume(device, volser);
  const index = fast.method === 'full' ? 'none' : fast.method;
  if (index !== 'none') {
    for (const r of fast.runs) {
      const got = recorded.get(r.position);
      if (!got) problems.push({ volser, position: r.position, kind: 'index', message: `the ${index} lists a run of ${r.incarnation} at ${volser}@${r.position} that the records do not hold` });
      else if (!sameRun(r, got)) problems.push({ volser, position: r.position, kind: 'index', message: `the ${index}'s run at ${volser}@${r.position} differs from the records (${r.incarnation} ${r.firstSeq}+${r.count})` });
    }
    if (fast.finished && !open && fast.runs.length !== full.runs.length)
      problems.push({ volser, position: full.validEnd, kind: 'index', message: `the trailer lists ${fast.runs.length} runs, the records hold ${full.runs.length}` });
  } else if (!open && full.finished === false && full.end > 0) {
    problems.push({ volser, position: full.end, kind: 'index', message: `${volser} has neither a trailer nor a readable checkpoint` });
  }
  if (catalogRuns) {
    for (const c of catalogRuns) {
      const got = recorded.get(c.position);
      if (!got) problems.push({ volser, position: c.position, kind: 'catalog', message: `the catalog places superblocks ${c.firstSeq}..${c.firstSeq + c.count - 1} of ${c.incarnation} at ${volser}@${c.position}; no intact run there` });
      else if (!sameRun(c, got)) problems.push({ volser, position: c.position, kind: 'catalog', message: `the run at ${volser}@${c.position} differs from the catalog's (${c.incarnation} ${c.firstSeq}+${c.count})` });
    }
  }
  problems.sort((a, b) => a.position - b.position);
  return {
    volser,
    ok: problems.length === 0,
    records: { runs: full.runs.length, superblocks: full.runs.reduce((n, r) => n + r.count, 0), checkpoints: full.checkpoints },
    index,
    problems,
    read: full.read + fast.read,
  };
}
