/**
 * Balancing and alerts of the streams served here, and what /status shows. A stream whose backlog
 * (memory plus consumer lag, in bytes) exceeds its objective × SOV_BACKLOG_SECONDS gets another
 * device, up to its maximum; a device above the minimum idle for SOV_IDLE_RELEASE_MS is released;
 * a gap that never fills aborts its client file; an alert is logged when unplaced data nears the
 * topic's retention.
 */
import { Topic } from '@deltaflow/contracts';
import { activeDevices, nextDeviceName } from '@deltaflow/tape';
import type { StreamMultiplexerService } from './multiplexer.service';
import { Deferred } from './runtime/client-file';

export class StreamBalancer {
  private readonly lastDeviceAdded = new Map<string, number>();
  private lastRetentionAlert = 0;

  constructor(private readonly mux: StreamMultiplexerService) {}

  balance(): void {
    const now = this.mux.now();
    const spool = this.mux.spool?.spoolOf(Topic.sovSuperblocks) ?? [];
    for (const s of this.mux.servedStreams()) {
      const devs = [...this.mux.devices.values()].filter((d) => d.stream === s.name && !d.failed && !d.draining && !d.stopped);
      const p = this.mux.admission.streamPartition.get(s.name);
      const lag = spool.find((x) => x.partition === p)?.lag ?? 0n;
      let backlog = Number(lag) * this.mux.admission.meanSuperblock;
      for (const f of this.mux.files.values()) if (f.stream === s.name) backlog += f.heldBytes();
      const objective = s.settings.objectiveBytesPerSec;
      if (objective && backlog > objective * this.mux.config.backlogSeconds && activeDevices(s).length < s.settings.maxDevices && now - (this.lastDeviceAdded.get(s.name) ?? 0) > 5000) {
        this.lastDeviceAdded.set(s.name, now);
        const name = nextDeviceName(s);
        this.mux.log(`stream ${s.name}: backlog ${Math.round(backlog / 1e6)} MB exceeds ${this.mux.config.backlogSeconds} s of its objective (${objective} B/s): adding device ${name}`);
        try {
          this.mux.decide({ type: 'AddDevice', stream: s.name, device: name, at: now });
          void this.mux.ensureDevices(s.name).then(() => this.mux.startDevices());
        } catch (e) {
          this.mux.log(`stream ${s.name}: no device added: ${(e as Error).message}`);
        }
      } else if (devs.length > s.settings.minDevices) {
        const idle = devs.find((d) => d.files.size === 0 && now - d.lastBusyAt > this.mux.config.idleReleaseMs);
        if (idle) {
          this.mux.log(`device ${idle.key}: idle for ${this.mux.config.idleReleaseMs} ms, released`);
          idle.draining = { reason: 'idle', done: new Deferred(), operator: false };
          idle.draining.done.promise.then(() => this.mux.devices.delete(idle.key));
          idle.wake();
        }
      }
    }
    for (const f of [...this.mux.files.values()])
      if (f.aheadSince !== null && now - f.aheadSince > this.mux.config.reorderTimeoutMs && !f.abortRequest)
        void this.mux.abort(f, `superblock ${f.next} never arrived; ${f.ahead.size} later ones waited ${this.mux.config.reorderTimeoutMs} ms`);
    for (const x of spool) {
      if (x.oldestMs !== null && x.oldestMs > this.mux.config.retentionMs * 0.8 && now - this.lastRetentionAlert > 60_000) {
        this.lastRetentionAlert = now;
        this.mux.alert(
          `sov.superblocks[${x.partition}]: a superblock not yet placed is ${Math.round(x.oldestMs / 1000)} s old, ${Math.round((100 * x.oldestMs) / this.mux.config.retentionMs)} % of the topic's retention (${Math.round(this.mux.config.retentionMs / 1000)} s): add devices or raise retention before Kafka deletes it`,
        );
      }
    }
  }

  /** What /status shows. */
  status() {
    return {
      streams: [...this.mux.servedStreams()].map((s) => ({
        stream: s.name,
        settings: s.settings,
        devices: [...s.devices.values()].map((d) => {
          const rt = this.mux.devices.get(`${s.name}/${d.name}`);
          return { device: d.name, status: d.status, volser: d.volser, ...(rt ? { clientFiles: rt.files.size, heldBytes: rt.heldBytes(), draining: !!rt.draining, ...rt.utilisation() } : {}) };
        }),
        openClientFiles: [...this.mux.files.values()].filter((f) => f.stream === s.name).length,
      })),
      memory: { bufferedBytes: this.mux.memory.bytes, limitBytes: this.mux.config.memoryBytes },
      parked: this.mux.admission.parkedCount(),
      spool: (this.mux.spool?.spoolOf(Topic.sovSuperblocks) ?? []).map((x) => ({ partition: x.partition, unsettled: x.unsettled, oldestMs: x.oldestMs, lag: x.lag === null ? null : Number(x.lag) })),
    };
  }
}
