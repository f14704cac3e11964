import type { EncodedSuperblock } from './codec';
import type { Device } from './device';
import { TapeCorruptError, TapeValidationError } from './errors';
import { walkRecords } from './records';
import { checkSuperblock } from './reader';
import { readLabel } from './scan';
import type { SovState, VolumeRun } from './streams';
import { FLAG_RUN_START } from './writer';

/*
 * Reclamation (TSM's reclamation; `dsf volumes reclaim --threshold P`), the pure part: which of a
 * stream's volumes are worth reclaiming. A volume qualifies when it is finished (full), holds no run
 * of a client file still open (its chain continues on a device) and the runs of its live client
 * files (closed, not expired) take less than P % of it. Its live runs are what a reclaimer copies
 * onto the stream's current volume before the old one is scratched; expired and aborted files' runs
 * are left behind, so nothing expired comes back.
 */

export interface ReclaimCandidate {
  readonly volser: string;
  /** position units the volume holds (its end) */
  readonly size: number;
  /** position units of its live runs */
  readonly liveBytes: number;
  readonly livePercent: number;
  /** the live runs to copy, in position order */
  readonly liveRuns: readonly VolumeRun[];
}

export interface ReclaimAssessment {
  readonly candidates: readonly ReclaimCandidate[];
  /** volumes of the stream left alone, and why */
  readonly skipped: ReadonlyArray<{ readonly volser: string; readonly reason: string }>;
}

/** The stream's volumes whose live runs take less than `thresholdPercent` of them (0 < P ≤ 100), emptiest first. */
export function reclaimCandidates(state: SovState, stream: string, thresholdPercent: number): ReclaimAssessment {
  if (!(thresholdPercent > 0 && thresholdPercent <= 100)) throw new TapeValidationError(`threshold: expected a percentage in (0, 100], got ${thresholdPercent}`, 'threshold');
  const candidates: ReclaimCandidate[] = [];
  const skipped: Array<{ volser: string; reason: string }> = [];
  for (const v of state.volumes.values()) {
    if (v.stream !== stream) continue;
    if (v.status !== 'full') {
      skipped.push({ volser: v.volser, reason: v.status === 'mounted' ? 'mounted for appending' : `suspect: ${v.suspect?.reason ?? ''}` });
      continue;
    }
    const open = v.runs.find((r) => state.files.get(r.incarnation)?.status === 'open');
    if (open) {
      skipped.push({ volser: v.volser, reason: `holds runs of client file ${state.files.get(open.incarnation)?.clientFile} (${open.incarnation}), still open` });
      continue;
    }
    const liveRuns = v.runs.filter((r) => {
      const f = state.files.get(r.incarnation);
      return f !== undefined && f.status === 'closed' && !f.expired;
    });
    const liveBytes = liveRuns.reduce((n, r) => n + r.extent, 0);
    const size = Math.max(v.end, 1);
    const livePercent = Math.round((liveBytes / size) * 10_000) / 100;
    if (livePercent < thresholdPercent) candidates.push({ volser: v.volser, size: v.end, liveBytes, livePercent, liveRuns });
    else skipped.push({ volser: v.volser, reason: `${livePercent} % live, not below ${thresholdPercent} %` });
  }
  candidates.sort((a, b) => a.livePercent - b.livePercent || a.volser.localeCompare(b.volser));
  return { candidates, skipped };
}

/**
 * Reads a run back for copying onto another volume: every record verified (header and body CRCs,
 * position, the volume's tag, incarnation, sequence) and returned as the EncodedSuperblock the
 * writer appends. The stored body is copied as it is (compressed and/or encrypted): AES-GCM's
 * associated data holds the incarnation, sequence, flags and plaintext length, not the volume tag or
 * position, so a moved superblock still authenticates, and its nonce is not used for new plaintext.
 * The writer gives it a new header (the new volume's tag, its new position). Nothing is decoded: no
 * operator key is needed.
 */
export async function readRunForCopy(device: Device, volser: string, run: VolumeRun): Promise<EncodedSuperblock[]> {
  const { label } = await readLabel(device, volser);
  const out: EncodedSuperblock[] = [];
  let expected = run.position;
  const w = await walkRecords(device, run.position, run.position + run.extent, { tag: label.tag, volser }, (r) => {
    const where = { volser, offset: r.position };
    if (r.position !== expected) throw new TapeCorruptError(`superblock ${run.firstSeq + out.length} of ${run.incarnation}: unreadable record (reading resumed at ${r.position})`, { volser, offset: expected });
    expected = r.position + r.extent;
    if (out.length >= run.count) throw new TapeCorruptError(`more records than the ${run.count} superblocks placed`, where);
    const h = r.header;
    checkSuperblock(h, { incarnation: run.incarnation, firstSeq: run.firstSeq, count: run.count }, out.length, undefined, where);
    out.push({ seq: h.seq, flags: h.flags & ~FLAG_RUN_START, body: Buffer.from(r.body), bodyCrc: h.bodyCrc, rawLength: h.rawLength, contentCrc: h.contentCrc });
  });
  if (w.damage.length) throw new TapeCorruptError(`run of ${run.incarnation} at ${volser}@${run.position}: ${w.damage[0].reason}`, { volser, offset: w.damage[0].position });
  if (out.length !== run.count) throw new TapeCorruptError(`run of ${run.incarnation} at ${volser}@${run.position}: ${out.length} of ${run.count} superblocks found`, { volser, offset: run.position });
  return out;
}
