import { TapeCorruptError } from './errors';
import { DecodedLabel } from './label';
import { Placement, scanVolume, VolumeProblem } from './volume';

/** A client file as rebuilt from the volumes alone. */
export interface ScannedClientFile {
  readonly clientFile: string;
  readonly stream: string;
  /** stream file(s) holding its superblocks */
  readonly streamFiles: string[];
  /** placements in sequence order (duplicates dropped) */
  readonly placements: Placement[];
  readonly bytes: number;
  /** every superblock 0..last present and the last one flagged last */
  readonly complete: boolean;
  /** sequence numbers missing below the highest one found */
  readonly missing: number[];
}

/** A volume as found by the scan. */
export interface ScannedVolume {
  readonly path: string;
  readonly label: DecodedLabel;
  readonly superblocks: number;
  readonly validEnd: number;
  readonly size: number;
}

export interface StreamFileScan {
  readonly volumes: ScannedVolume[];
  readonly clientFiles: ScannedClientFile[];
  /** damaged or truncated stretches, and volumes that could not be read at all */
  readonly problems: Array<VolumeProblem | { readonly path: string; readonly offset: number; readonly kind: 'unreadable'; readonly reason: string }>;
  /** stream files with a gap in their volume sequence numbers: stream file → missing sequence numbers */
  readonly missingVolumes: Record<string, number[]>;
}

/**
 * SCANSTREAMFILE: rebuilds the catalog of client files from a set of volume files alone (labels
 * and self-describing superblocks), listing where every superblock lies. Damaged stretches are
 * skipped and reported with their position; client files missing superblocks are marked incomplete.
 */
export async function scanStreamFile(volumePaths: readonly string[]): Promise<StreamFileScan> {
  const volumes: ScannedVolume[] = [];
  const problems: StreamFileScan['problems'] = [];
  const files = new Map<string, { stream: string; streamFiles: Set<string>; bySeq: Map<number, Placement> }>();
  for (const path of volumePaths) {
    let scan;
    try {
      scan = await scanVolume(path);
    } catch (e) {
      if (e instanceof TapeCorruptError) {
        problems.push({ path, offset: 0, kind: 'unreadable', reason: e.message });
        continue;
      }
      throw e;
    }
    volumes.push({ path, label: scan.label, superblocks: scan.superblocks.length, validEnd: scan.validEnd, size: scan.size });
    problems.push(...scan.problems);
    for (const sb of scan.superblocks) {
      let f = files.get(sb.clientFile);
      if (!f) files.set(sb.clientFile, (f = { stream: sb.stream, streamFiles: new Set(), bySeq: new Map() }));
      f.streamFiles.add(scan.label.streamFile);
      // A superblock rewritten after a device switch may appear twice; the first copy found is kept.
      if (!f.bySeq.has(sb.seq))
        f.bySeq.set(sb.seq, {
          clientFile: sb.clientFile,
          stream: sb.stream,
          seq: sb.seq,
          last: sb.last,
          volser: sb.volser,
          offset: sb.offset,
          length: sb.payloadLength,
          crc: sb.payloadCrc,
        });
    }
  }
  const clientFiles: ScannedClientFile[] = [...files.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([clientFile, f]) => {
      const placements = [...f.bySeq.values()].sort((a, b) => a.seq - b.seq);
      const max = placements[placements.length - 1].seq;
      const missing: number[] = [];
      for (let s = 0; s <= max; s++) if (!f.bySeq.has(s)) missing.push(s);
      const complete = missing.length === 0 && placements[placements.length - 1].last;
      return {
        clientFile,
        stream: f.stream,
        streamFiles: [...f.streamFiles].sort(),
        placements,
        bytes: placements.reduce((n, p) => n + p.length, 0),
        complete,
        missing,
      };
    });
  const seqs = new Map<string, number[]>();
  for (const v of volumes) seqs.set(v.label.streamFile, [...(seqs.get(v.label.streamFile) ?? []), v.label.sequence]);
  const missingVolumes: Record<string, number[]> = {};
  for (const [sf, list] of seqs) {
    const have = new Set(list);
    const gaps: number[] = [];
    for (let s = 1; s <= Math.max(...list); s++) if (!have.has(s)) gaps.push(s);
    if (gaps.length) missingVolumes[sf] = gaps;
  }
  return { volumes, clientFiles, problems, missingVolumes };
}
