/**
 * Verification in the multiplexer (`dsf volumes verify`, `dsf client-files verify`, the scrub):
 * the instance serving a stream owns its devices, so it verifies the stream's volumes. It never
 * uses a writing device: each verification reads through a read-only FileDevice of its own over
 * the volume library, a finished volume whole, a mounted one up to the end of its last placed run
 * (what sov.events says is durable), so writers go on meanwhile. Verifications run one at a time
 * per instance (they read, and a scrub must not hog the disk). The outcome is a sov.events report
 * (VolumeVerified, ClientFileVerified) decided by the stream decider, which changes no state.
 *
 * The scrub (SOV_SCRUB_INTERVAL_MS, off by default): every interval, the finished volume of a
 * served stream verified longest ago (never first) is verified, reported with trigger `scrub`.
 */
import { FileDevice, readClientFile, TapeError, verifyVolume, type Device, type VerificationEvent, type VerificationProblem } from '@deltaflow/tape';
import type { StreamMultiplexerService } from './multiplexer.service';

type Trigger = 'operator' | 'scrub';
const MAX_PROBLEMS = 1000;

export class Verifier {
  private queue: Promise<unknown> = Promise.resolve();
  /** when each volume was last verified here (the scrub picks the oldest) */
  private readonly lastVerified = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private scrubbing = false;

  constructor(private readonly mux: StreamMultiplexerService) {}

  /** Starts the scrub when an interval is configured. */
  start(): void {
    const every = this.mux.config.scrubIntervalMs;
    if (every && every > 0) this.timer = setInterval(() => void this.scrubOne(), every);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private device(): Device {
    return this.mux.config.readDeviceFactory?.() ?? new FileDevice({ name: 'verifier', dir: this.mux.config.volumeDir, capacity: Number.MAX_SAFE_INTEGER, readOnly: true });
  }

  /** Runs `fn` after every verification queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Verifies a volume of `stream` and publishes VolumeVerified; resolves once it is published. */
  volume(stream: string, volser: string, trigger: Trigger, correlationId?: string): Promise<VerificationEvent> {
    return this.serial(async () => {
      const event = await this.checkVolume(stream, volser, trigger, correlationId);
      await this.mux.decideAndPublish({ type: 'ReportVerification', event });
      this.lastVerified.set(volser, this.mux.now());
      if (!event.ok) this.mux.alert(`volume ${volser} failed verification: ${event.problems.slice(0, 3).map((p) => `${p.volser ?? volser}@${p.position ?? '?'}: ${p.reason}`).join('; ')}`);
      else this.mux.log(`volume ${volser} verified: ${event.type === 'VolumeVerified' ? `${event.runs} runs, ${event.superblocks} superblocks` : ''}`);
      return event;
    });
  }

  private async checkVolume(stream: string, volser: string, trigger: Trigger, correlationId?: string): Promise<VerificationEvent> {
    const at = this.mux.now();
    const v = this.mux.state.volumes.get(volser);
    const base = { type: 'VolumeVerified' as const, stream, volser, trigger, ...(correlationId ? { correlationId } : {}) };
    if (!v || v.stream !== stream) {
      const reason = v ? `volume ${volser} belongs to stream ${v.stream}, not ${stream}` : `stream ${stream} has no volume ${volser} (never labelled, or scratched)`;
      return { ...base, ok: false, problems: [{ volser, kind: 'missing', reason }], problemCount: 1, status: 'full', end: 0, runs: 0, superblocks: 0, occurredAt: at };
    }
    // a mounted volume: up to the end of its last placed run (durable, published)
    const upTo = v.status === 'mounted' ? v.end : undefined;
    const expected = v.runs.filter((r) => upTo === undefined || r.position + r.extent <= upTo);
    const device = this.device();
    try {
      const r = await verifyVolume(device, volser, expected, upTo !== undefined ? { upTo } : {});
      const problems: VerificationProblem[] = r.problems.slice(0, MAX_PROBLEMS).map((p) => ({ volser, position: p.position, kind: p.kind, reason: p.message.slice(0, 4000) }));
      return { ...base, ok: r.ok, problems, problemCount: r.problems.length, status: v.status, end: upTo ?? v.end, runs: r.records.runs, superblocks: r.records.superblocks, occurredAt: this.mux.now() };
    } catch (e) {
      // unreadable as a whole (no such file, no label at all): a problem to report, not a crash
      const reason = `${volser} cannot be read: ${(e as Error).message}`.slice(0, 4000);
      return { ...base, ok: false, problems: [{ volser, kind: 'missing', reason }], problemCount: 1, status: v.status, end: upTo ?? v.end, runs: 0, superblocks: 0, occurredAt: at };
    } finally {
      await device.unmount().catch(() => undefined);
    }
  }

  /** Reassembles a client file (its latest incarnation, or the one named), checks it against its close record and publishes ClientFileVerified. */
  clientFile(stream: string, clientFile: string, incarnation: string | undefined, trigger: Trigger, correlationId?: string): Promise<VerificationEvent> {
    return this.serial(async () => {
      const event = await this.checkClientFile(stream, clientFile, incarnation, trigger, correlationId);
      await this.mux.decideAndPublish({ type: 'ReportVerification', event });
      if (!event.ok) this.mux.alert(`client file ${stream}/${clientFile} failed verification: ${event.problems.map((p) => p.reason).join('; ')}`);
      return event;
    });
  }

  private async checkClientFile(stream: string, clientFile: string, incarnation: string | undefined, trigger: Trigger, correlationId?: string): Promise<VerificationEvent> {
    const at = this.mux.now();
    const inc = incarnation ?? this.mux.state.names.get(`${stream}/${clientFile}`);
    const f = inc !== undefined ? this.mux.state.files.get(inc) : undefined;
    const base = { type: 'ClientFileVerified' as const, stream, clientFile, ...(inc ? { incarnation: inc } : {}), trigger, ...(correlationId ? { correlationId } : {}) };
    const refuse = (reason: string): VerificationEvent => ({ ...base, ok: false, problems: [{ kind: 'missing', reason }], superblocks: 0, bytes: 0, volsers: [], occurredAt: at });
    if (!f || f.stream !== stream || f.clientFile !== clientFile) return refuse(`no client file ${stream}/${clientFile}${incarnation ? ` with incarnation ${incarnation}` : ''}`);
    if (f.status !== 'closed' || !f.close) return refuse(`client file ${clientFile} (${f.incarnation}) is ${f.status === 'aborted' ? `aborted: ${f.abort?.reason ?? ''}` : 'still open'}: it has no close record to check against`);
    const runs = f.volsers.flatMap((volser) => (this.mux.state.volumes.get(volser)?.runs ?? []).filter((r) => r.incarnation === f.incarnation).map((r) => ({ ...r, volser })));
    const device = this.device();
    let superblocks = 0;
    let bytes = 0;
    try {
      // readClientFile checks every superblock (CRCs, position, tag, sequence, authentication) and, at the end, the count, bytes and SHA-256 of the close record
      for await (const b of readClientFile(device, f.open, runs, { ...(this.mux.config.operatorKey ? { keyring: this.mux.config.operatorKey } : {}), close: f.close })) {
        superblocks++;
        bytes += b.length;
      }
      return { ...base, ok: true, problems: [], superblocks, bytes, sha256: f.close.sha256, volsers: [...f.volsers], occurredAt: this.mux.now() };
    } catch (e) {
      const where = (e as { position?: { volser?: string; offset: number } }).position;
      const kind = e instanceof TapeError && (e.code === 'CORRUPT_DATA' || e.code === 'AUTH_FAILED') ? (where ? 'damage' : 'content') : 'missing';
      const problem: VerificationProblem = { ...(where?.volser ? { volser: where.volser } : {}), ...(where ? { position: where.offset } : {}), kind, reason: (e as Error).message.slice(0, 4000) };
      return { ...base, ok: false, problems: [problem], superblocks, bytes, volsers: [...f.volsers], occurredAt: this.mux.now() };
    } finally {
      await device.unmount().catch(() => undefined);
    }
  }

  /** One step of the scrub: the finished volume of a served stream verified longest ago. */
  private async scrubOne(): Promise<void> {
    if (this.scrubbing || this.mux.stopping) return;
    this.scrubbing = true;
    try {
      const candidates = [...this.mux.state.volumes.values()].filter((v) => v.status === 'full' && this.mux.served.has(v.stream));
      candidates.sort((a, b) => (this.lastVerified.get(a.volser) ?? -1) - (this.lastVerified.get(b.volser) ?? -1) || a.volser.localeCompare(b.volser));
      const v = candidates[0];
      if (v) await this.volume(v.stream, v.volser, 'scrub');
    } catch (e) {
      this.mux.log(`scrub: ${(e as Error).message}`);
    } finally {
      this.scrubbing = false;
    }
  }
}
