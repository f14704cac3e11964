import { assessFile, CatalogFile, CatalogState, catalogDigest, eventsOfScan, evolveCatalog, FileAssessment, initialCatalog } from './catalog';
import { Device } from './device';
import { TapeCorruptError } from './errors';
import { Damage } from './records';
import { scanVolume, ScanOptions, VolumeScan } from './scan';

/** The result of SCANSTREAMFILE over a set of volumes. */
export interface StreamFileScan {
  readonly volumes: VolumeScan[];
  /** the catalog a fold of the stream's sov.events would hold for these volumes */
  readonly catalog: CatalogState;
  readonly digest: string;
  readonly files: Array<{ readonly file: CatalogFile; readonly assessment: FileAssessment }>;
  /** damaged, foreign or truncated stretches, with volser and position */
  readonly damage: Damage[];
  readonly unreadable: Array<{ readonly volser: string; readonly reason: string }>;
  /** stream file → volume sequence numbers not among the volumes scanned */
  readonly missingVolumes: Record<string, number[]>;
}

/**
 * SCANSTREAMFILE: rebuilds the client-file catalog from volumes alone (default: every volume the
 * device lists). Trailers and checkpoints are used where present; torn or damaged volumes are read
 * from their last checkpoint, or fully.
 */
export async function scanStreamFile(device: Device, volsers?: readonly string[], opts: ScanOptions = {}): Promise<StreamFileScan> {
  const names = volsers ?? (await device.list());
  const volumes: VolumeScan[] = [];
  const unreadable: StreamFileScan['unreadable'] = [];
  const catalog = initialCatalog();
  for (const v of names) {
    let s: VolumeScan;
    try {
      s = await scanVolume(device, v, opts);
    } catch (e) {
      if (e instanceof TapeCorruptError) {
        unreadable.push({ volser: v, reason: e.message });
        continue;
      }
      throw e;
    }
    volumes.push(s);
    for (const e of eventsOfScan(s)) evolveCatalog(catalog, e);
  }
  await device.unmount();
  const seqs = new Map<string, number[]>();
  for (const v of volumes) if (v.label) seqs.set(v.label.streamFile, [...(seqs.get(v.label.streamFile) ?? []), v.label.sequence]);
  const missingVolumes: Record<string, number[]> = {};
  for (const [sf, list] of seqs) {
    const have = new Set(list);
    const max = Math.max(...list, ...volumes.filter((v) => v.label?.streamFile === sf && v.nextVolser).map((v) => (v.label as { sequence: number }).sequence + 1));
    const gaps: number[] = [];
    for (let s = 1; s <= max; s++) if (!have.has(s)) gaps.push(s);
    if (gaps.length) missingVolumes[sf] = gaps;
  }
  const files = [...catalog.files.values()].sort((a, b) => (a.incarnation < b.incarnation ? -1 : 1)).map((file) => ({ file, assessment: assessFile(file) }));
  return {
    volumes,
    catalog,
    digest: catalogDigest(catalog),
    files,
    damage: volumes.flatMap((v) => v.damage),
    unreadable,
    missingVolumes,
  };
}
