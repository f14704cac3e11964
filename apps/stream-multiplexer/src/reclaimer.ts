/**
 * Reclamation in the multiplexer (`dsf volumes reclaim --threshold P`, sov.commands VolumeReclaim;
 * TSM's reclamation). The instance serving the stream owns its devices, so it does the copying:
 *
 * 1. which volumes: libs/tape `reclaimCandidates` (finished, no open client file, live runs below
 *    P % of the volume), emptiest first; a dry run stops here and reports them;
 * 2. per candidate, per live run in position order: the run's records are read back through a
 *    read-only FileDevice of its own (every CRC, position, tag, sequence verified; nothing decoded,
 *    so no operator key is needed and encrypted bodies are copied as they are: their associated
 *    data holds neither the volume tag nor the position), then queued on one of the stream's devices,
 *    which appends them between its client files' runs on its current volume (the normal device
 *    path: the writer gives each superblock a new header with the new volume's tag and position, the
 *    client file's open record first, its close record after its last moved run) and syncs;
 * 3. only then RunMoved (decided by the stream decider, `MoveRuns`, which checks the piece against
 *    the run still on the old volume) is published; once every live run of the volume is moved and
 *    published, VolumeScratched (`ScratchReclaimed`, refused while a live run is left) and the old
 *    volume file is deleted: its volser is free for labelling again;
 * 4. the outcome, VolumesReclaimed, names each candidate and what became of it.
 *
 * Expired and aborted client files' runs are left behind and go with the scratched volume, so a scan
 * never finds them again. Idempotent: a re-sent command (or one redelivered after a kill -9) starts
 * from the state, where moved runs are no longer on the old volume; a copy made durable whose
 * RunMoved was lost is recognised when the volume is reconciled at the restart (the stream decider's
 * `Reconcile` records it as RunMoved), and a copy not synced is cut with the torn tail or left as
 * bytes no event names. One reclamation at a time per instance.
 */
import { FileDevice, isLive, readRunForCopy, reclaimCandidates, type Device, type ReclaimReport, type RunMove } from '@deltaflow/tape';
import type { StreamMultiplexerService } from './multiplexer.service';
import type { DeviceRuntime } from './runtime/device';

type VolumeOutcome = ReclaimReport['volumes'][number];

export class Reclaimer {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly mux: StreamMultiplexerService) {}

  private device(): Device {
    return this.mux.config.readDeviceFactory?.() ?? new FileDevice({ name: 'reclaimer', dir: this.mux.config.volumeDir, capacity: Number.MAX_SAFE_INTEGER, readOnly: true });
  }

  /** Reclaims the stream's volumes below the threshold and publishes VolumesReclaimed; resolves once it is published. */
  reclaim(stream: string, thresholdPercent: number, dryRun: boolean, correlationId?: string): Promise<ReclaimReport> {
    const run = this.queue.then(
      () => this.run(stream, thresholdPercent, dryRun, correlationId),
      () => this.run(stream, thresholdPercent, dryRun, correlationId),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(stream: string, thresholdPercent: number, dryRun: boolean, correlationId?: string): Promise<ReclaimReport> {
    const assessment = reclaimCandidates(this.mux.state, stream, thresholdPercent);
    const volumes: VolumeOutcome[] = [];
    let runsMoved = 0;
    for (const c of assessment.candidates) {
      const base = { volser: c.volser, size: c.size, liveBytes: c.liveBytes, runs: c.liveRuns.length };
      if (dryRun) {
        volumes.push({ ...base, moved: 0, outcome: 'candidate' });
        continue;
      }
      let moved = 0;
      try {
        moved = await this.reclaimVolume(stream, c.volser, correlationId, () => runsMoved++);
        await this.mux.decideAndPublish({ type: 'ScratchReclaimed', volser: c.volser, at: this.mux.now() });
        await this.mux.scratch(c.volser);
        volumes.push({ ...base, moved, outcome: 'scratched' });
        this.mux.log(`volume ${c.volser} reclaimed: ${moved} live runs moved, returned to scratch`);
      } catch (e) {
        const reason = `${(e as Error).message}`.slice(0, 4000);
        this.mux.alert(`reclaiming volume ${c.volser}: ${reason}`);
        volumes.push({ ...base, moved, outcome: 'failed', reason });
      }
    }
    const event: ReclaimReport = {
      type: 'VolumesReclaimed',
      stream,
      thresholdPercent,
      dryRun,
      ok: volumes.every((v) => v.outcome !== 'failed'),
      volumes,
      skipped: assessment.skipped.map((s) => ({ volser: s.volser, reason: s.reason.slice(0, 4000) })),
      runsMoved,
      ...(correlationId ? { correlationId } : {}),
      occurredAt: this.mux.now(),
    };
    await this.mux.decideAndPublish({ type: 'ReportReclaim', event });
    return event;
  }

  /** Moves every live run still on `volser` (the state says which: a replay moves only the rest); the number moved now. */
  private async reclaimVolume(stream: string, volser: string, correlationId: string | undefined, counted: () => void): Promise<number> {
    const reader = this.device();
    let moved = 0;
    try {
      for (;;) {
        const v = this.mux.state.volumes.get(volser);
        const run = v?.runs.find((r) => isLive(this.mux.state, r.incarnation));
        if (!run) return moved;
        const f = this.mux.state.files.get(run.incarnation)!;
        const superblocks = await readRunForCopy(reader, volser, run);
        await reader.unmount();
        const device = this.writingDevice(stream);
        // the close record follows the file's last run moved off this volume, so the new volume describes the file whole
        const lastHere = !v!.runs.some((r) => r !== run && r.incarnation === run.incarnation && r.position > run.position);
        const placements = await device.copy({ open: f.open, superblocks, close: lastHere ? f.close : null });
        if (placements.length === 0) throw new Error(`the copy of ${f.clientFile}'s run at ${volser}@${run.position} was not made durable`);
        const moves: RunMove[] = placements.map((placement) => ({ fromVolser: volser, fromPosition: run.position, placement }));
        await this.mux.decideAndPublish({ type: 'MoveRuns', moves, ...(correlationId ? { correlationId } : {}), at: this.mux.now() });
        moved++;
        counted();
      }
    } finally {
      await reader.unmount().catch(() => undefined);
    }
  }

  /** A device of the stream taking work (its current volume receives the copies). */
  private writingDevice(stream: string): DeviceRuntime {
    let best: DeviceRuntime | null = null;
    for (const d of this.mux.devices.values()) {
      if (d.stream !== stream || d.failed || d.stopped || d.draining) continue;
      if (!best || d.files.size < best.files.size) best = d;
    }
    if (!best) throw new Error(`stream ${stream} has no working device here to copy onto`);
    return best;
  }
}
