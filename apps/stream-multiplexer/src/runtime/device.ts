/**
 * One device of a stream at work: its loop writes the open records, runs, closes and aborts of the
 * client files assigned to it onto its mounted volume (labelling a scratch volume when it has none,
 * spanning to the next when one fills), syncs in groups, and hands what each sync made durable to
 * the service (which decides and publishes the events, then releases the spool). Runs interleave:
 * of the client files with a run ready (K superblocks, its last one, or the oldest waiting longer
 * than the latency limit), the one whose oldest superblock came first goes next.
 *
 * Any device error or a timeout fails the device (the service marks its volume suspect and places
 * the unsynced superblocks again elsewhere, re-read from Kafka).
 */
import { randomBytes } from 'node:crypto';
import { DelegatingDevice, HEADER_LENGTH, TapeIoError, VolumeWriter, type CloseRecord, type Durable, type EncodedSuperblock, type MountInfo, type OpenRecord, type RunPlacement, type SovCommand, type SovState, type StreamSettings } from '@deltaflow/tape';
import { RejectedRecord } from '@deltaflow/service-kit';
import { ClientFileRuntime, Deferred, type PendingSuperblock } from './client-file';

/** What a device needs from the service. */
export interface DeviceHost {
  readonly state: SovState;
  readonly runLatencyMs: number;
  readonly syncBytes: number;
  readonly syncMs: number;
  readonly deviceTimeoutMs: number;
  now(): number;
  log(msg: string): void;
  /** memory is nearly full: write partial runs rather than wait for K */
  memoryPressure(): boolean;
  /** a volser nobody uses (reserved until it is mounted) */
  allocateVolser(): string;
  /** decides now (the state changes at once), publishes in order; `after` runs once Kafka acknowledged */
  decideAndPublish(command: SovCommand, after?: () => void): Promise<void>;
  /** what a sync made durable on `volser` (decided and published by the service) */
  durable(device: DeviceRuntime, volser: string, durable: Durable, placed: Map<ClientFileRuntime, PendingSuperblock[]>): Promise<void>;
  deviceFailed(device: DeviceRuntime, error: unknown): Promise<void>;
}

/** Times the operations of a device that wait on it: how long it was busy. */
export class MeteredDevice extends DelegatingDevice {
  busyMs = 0;
  bytesWritten = 0;
  private async timed<T>(p: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await p();
    } finally {
      this.busyMs += performance.now() - t0;
    }
  }
  override create(volser: string): Promise<MountInfo> {
    return this.timed(() => super.create(volser));
  }
  override mount(volser: string): Promise<MountInfo> {
    return this.timed(() => super.mount(volser));
  }
  override append(records: ReadonlyArray<readonly Buffer[]>): Promise<number[]> {
    for (const r of records) for (const b of r) this.bytesWritten += b.length;
    return this.timed(() => super.append(records));
  }
  override sync(): Promise<void> {
    return this.timed(() => super.sync());
  }
  override read(position: number, extent: number): Promise<Buffer[]> {
    return this.timed(() => super.read(position, extent));
  }
}

/**
 * A reclamation's copy of one run (reclaimer.ts): its superblocks as stored on the old volume, the
 * close record to write after them (so the new volume describes the file whole), resolved with the
 * placements once they are durable (synced).
 */
export interface RunCopy {
  readonly open: OpenRecord;
  readonly superblocks: readonly EncodedSuperblock[];
  readonly close: CloseRecord | null;
  readonly done: Deferred<RunPlacement[]>;
}

export class DeviceRuntime {
  readonly files = new Set<ClientFileRuntime>();
  /** reclamation's copies waiting for this device (written between runs, through the same writer) */
  readonly copies: RunCopy[] = [];
  /** `${volser}@${position}` of copies written, not yet durable: they are RunMoved, not RunPlaced */
  private readonly copied = new Set<string>();
  private copiedDurable: RunPlacement[] = [];
  writer: VolumeWriter | null = null;
  /** the last volume this device finished (the next one's previous volser) */
  previousVolser: string | null = null;
  failed = false;
  stopped = false;
  /** set when the device is being released: no new client files; resolves once it is gone */
  draining: { readonly reason: string; readonly done: Deferred; readonly operator: boolean } | null = null;
  /** last moment it had a client file or work */
  lastBusyAt: number;
  /** position after the last synced record (a failed volume is cut back to it) */
  syncedEnd = 0;
  private unsynced = 0;
  private unsyncedSince = 0;
  private wakeup: Deferred | null = null;
  private loop: Promise<void> | null = null;
  /** time data waited for this device (ms) and since when it waits now */
  waitingMs = 0;
  private waitingSince: number | null = null;
  runs = 0;

  constructor(
    private readonly host: DeviceHost,
    readonly stream: string,
    readonly name: string,
    readonly device: MeteredDevice,
    private readonly settings: () => StreamSettings,
  ) {
    this.lastBusyAt = host.now();
  }

  get key(): string {
    return `${this.stream}/${this.name}`;
  }

  start(): void {
    this.loop ??= this.run();
  }

  wake(): void {
    this.wakeup?.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    for (const c of this.copies.splice(0)) c.done.reject(new TapeIoError(`device ${this.key} stopped before the copy was written`));
  }

  /** held bytes of the device's client files (its backlog in memory) */
  heldBytes(): number {
    let n = 0;
    for (const f of this.files) n += f.heldBytes();
    return n;
  }

  /** busy ÷ time data waited, so far */
  utilisation(): { busyMs: number; waitingMs: number; ratio: number | null; bytesWritten: number; runs: number } {
    const waiting = this.waitingMs + (this.waitingSince !== null ? performance.now() - this.waitingSince : 0);
    return { busyMs: this.device.busyMs, waitingMs: waiting, ratio: waiting > 0 ? this.device.busyMs / waiting : null, bytesWritten: this.device.bytesWritten, runs: this.runs };
  }

  private noteWaiting(): void {
    let data = false;
    for (const f of this.files)
      if (f.queue.length || f.inflight.length) {
        data = true;
        break;
      }
    const t = performance.now();
    if (data && this.waitingSince === null) this.waitingSince = t;
    else if (!data && this.waitingSince !== null) {
      this.waitingMs += t - this.waitingSince;
      this.waitingSince = null;
    }
    if (data || this.files.size) this.lastBusyAt = this.host.now();
  }

  /** A device operation, failed after the timeout. */
  private async op<T>(what: string, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TapeIoError(`${what} on device ${this.key} timed out after ${this.host.deviceTimeoutMs} ms`)), this.host.deviceTimeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped && !this.failed) {
      try {
        this.noteWaiting();
        if (await this.step()) continue;
        if (this.draining && this.files.size === 0) {
          await this.release();
          return;
        }
        await this.idle();
      } catch (err) {
        for (const c of this.copies.splice(0)) c.done.reject(err);
        if (this.stopped) return;
        this.failed = true;
        await this.host.deviceFailed(this, err);
        return;
      }
    }
  }

  /** Sleeps until woken or the next deadline (a partial run's latency limit, a due sync). */
  private async idle(): Promise<void> {
    const now = performance.now();
    let until = now + 1000;
    for (const f of this.files) if (f.queue.length) until = Math.min(until, f.queue[0].takenAt + this.host.runLatencyMs);
    if (this.unsynced > 0) until = Math.min(until, this.unsyncedSince + this.host.syncMs);
    const ms = Math.max(1, until - now);
    this.wakeup = new Deferred();
    const t = setTimeout(() => this.wakeup?.resolve(), ms);
    await this.wakeup.promise;
    clearTimeout(t);
    this.wakeup = null;
  }

  /** Queues a reclamation's copy of a run; resolves with its placements once durable. */
  copy(c: Omit<RunCopy, 'done'>): Promise<RunPlacement[]> {
    if (this.failed || this.stopped) return Promise.reject(new TapeIoError(`device ${this.key} is ${this.failed ? 'failed' : 'stopped'}`));
    const job: RunCopy = { ...c, done: new Deferred<RunPlacement[]>() };
    this.copies.push(job);
    this.wake();
    return job.done.promise;
  }

  /** Writes one queued copy (pieces on the next volume when this one fills), its close record, and syncs. */
  private async writeCopy(job: RunCopy): Promise<void> {
    try {
      let rest: EncodedSuperblock[] = [...job.superblocks];
      // a run that does not fit whole goes to the next volume rather than being split: the copy then
      // lies on one volume that stays mounted until its RunMoved is decided (a restart's reconcile
      // finds a copy whose RunMoved was lost only on a mounted volume)
      const need = rest.reduce((n, sb) => n + HEADER_LENGTH + sb.body.length, 0) + 2 * (HEADER_LENGTH + 4096) + rest.length * 8;
      const current = await this.ensureVolume();
      if (current.free < need && need <= current.label.capacity / 2) await this.rotate();
      while (rest.length) {
        const w = await this.ensureVolume();
        const r = await this.op('append', w.appendRun(job.open, rest));
        if (r.placement) {
          this.copied.add(`${r.placement.volser}@${r.placement.position}`);
          this.noteUnsynced(r.placement.extent);
        }
        rest = r.rest;
        if (rest.length) await this.rotate();
      }
      const close = job.close;
      if (close) await this.meta(() => this.ensureVolume().then((w) => w.writeClose(job.open, close)));
      await this.flush();
      job.done.resolve(this.copiedDurable.splice(0));
    } catch (e) {
      this.copiedDurable = [];
      job.done.reject(e);
      throw e;
    }
  }

  /** One unit of work; false when nothing was due. */
  private async step(): Promise<boolean> {
    const copy = this.copies.shift();
    if (copy) {
      await this.writeCopy(copy);
      return true;
    }
    for (const f of this.files) {
      if (f.openPending) {
        await this.meta(() => this.ensureVolume().then((w) => w.writeOpen(f.open, f.placed > 0)));
        f.openPending = false;
        return true;
      }
      if (f.abortRequest && f.inflight.length === 0 && !f.abortWritten) {
        const reason = f.abortRequest.reason;
        await this.meta(() => this.ensureVolume().then((w) => w.writeAbort(f.open, { incarnation: f.incarnation, reason, abortedAt: this.host.now() })));
        f.abortWritten = true;
        return true;
      }
    }
    const f = this.pickRun();
    if (f) {
      await this.writeRun(f);
      return true;
    }
    for (const c of this.files) {
      if (c.closeDue() && !c.closeWritten) {
        const req = c.closeRequest!;
        const own = c.sha256();
        const problem =
          own !== null && own !== req.sha256
            ? `SHA-256 of the bytes placed ${own} differs from the writer's ${req.sha256}`
            : c.placedBytes !== req.bytes
              ? `${c.placedBytes} bytes placed, the close says ${req.bytes}`
              : req.superblocks > 0 && c.lastSeq !== req.superblocks - 1
                ? `superblock ${req.superblocks - 1} is not flagged last`
                : null;
        if (problem) {
          req.done.reject(new RejectedRecord('CONFLICT', `close of ${c.clientFile} (${c.incarnation}) refused: ${problem}; the client file is aborted`));
          c.closeRequest = null;
          c.abortRequest = { reason: `close refused: ${problem}`, done: new Deferred() };
          return true;
        }
        const record = { incarnation: c.incarnation, superblocks: req.superblocks, bytes: req.bytes, sha256: own ?? req.sha256, closedAt: this.host.now() };
        await this.meta(() => this.ensureVolume().then((w) => w.writeClose(c.open, record)));
        c.closeWritten = true;
        return true;
      }
    }
    if (this.unsynced > 0) {
      await this.flush();
      return true;
    }
    return false;
  }

  /**
   * A client file whose run is due (K superblocks queued, its last one, or waited past the latency
   * limit); round robin among them: the one served longest ago, then the one waiting longest.
   */
  private pickRun(): ClientFileRuntime | null {
    const k = this.settings().runSuperblocks;
    const now = performance.now();
    const pressure = this.host.memoryPressure();
    let best: ClientFileRuntime | null = null;
    for (const f of this.files) {
      const q = f.queue;
      if (q.length === 0 || f.openPending) continue;
      const ready = q.length >= k || q[q.length - 1].last || now - q[0].takenAt >= this.host.runLatencyMs || pressure || !!f.closeRequest;
      if (ready && (!best || f.servedAt < best.servedAt || (f.servedAt === best.servedAt && q[0].takenAt < best.queue[0].takenAt))) best = f;
    }
    return best;
  }

  private async writeRun(f: ClientFileRuntime): Promise<void> {
    const take = f.queue.splice(0, Math.min(this.settings().runSuperblocks, f.queue.length));
    f.servedAt = performance.now();
    f.inflight.push(...take);
    let rest: EncodedSuperblock[] = await Promise.all(take.map((s) => f.codec.encode({ seq: s.seq, last: s.last, payload: s.payload, crc: s.crc })));
    while (rest.length) {
      const w = await this.ensureVolume();
      const r = await this.op('append', w.appendRun(f.open, rest));
      if (r.placement) this.noteUnsynced(r.placement.extent);
      rest = r.rest;
      if (rest.length) await this.rotate();
    }
    this.runs++;
    if (this.unsynced >= this.host.syncBytes || (this.unsynced > 0 && performance.now() - this.unsyncedSince >= this.host.syncMs)) await this.flush();
  }

  /** A metadata record (open, close, abort): a volume too full for it is finished first. */
  private async meta(write: () => Promise<void>): Promise<void> {
    try {
      await this.op('write', write());
    } catch (e) {
      if (!/is full/.test((e as Error).message)) throw e;
      await this.rotate();
      await this.op('write', write());
    }
    this.noteUnsynced(1);
  }

  private noteUnsynced(n: number): void {
    if (this.unsynced === 0) this.unsyncedSince = performance.now();
    this.unsynced += n;
  }

  /** Syncs the device and hands what became durable to the service. */
  async flush(): Promise<void> {
    const w = this.writer;
    if (!w) return;
    const durable = await this.op('sync', w.sync());
    this.unsynced = 0;
    this.syncedEnd = this.device.end();
    await this.handOver(w.volser, durable);
  }

  private async handOver(volser: string, all: Durable): Promise<void> {
    // copies made by reclamation are told to it (RunMoved), not placed as new runs
    let durable = all;
    if (this.copied.size) {
      const mine = (r: RunPlacement) => this.copied.has(`${r.volser}@${r.position}`);
      const copies = all.runs.filter(mine);
      durable = { ...all, runs: all.runs.filter((r) => !mine(r)) };
      for (const r of copies) {
        this.copied.delete(`${r.volser}@${r.position}`);
        this.copiedDurable.push(r);
      }
    }
    const placed = new Map<ClientFileRuntime, PendingSuperblock[]>();
    const byInc = new Map([...this.files].map((f) => [f.incarnation, f]));
    for (const r of durable.runs) {
      const f = byInc.get(r.incarnation);
      if (!f) continue;
      const sbs = f.inflight.splice(0, r.count);
      if (sbs.length !== r.count || sbs[0].seq !== r.firstSeq) throw new Error(`device ${this.key}: run ${r.firstSeq}+${r.count} of ${f.clientFile} does not match what was in flight`);
      f.hashDurable(sbs);
      placed.set(f, [...(placed.get(f) ?? []), ...sbs]);
    }
    await this.host.durable(this, volser, durable, placed);
  }

  /** The mounted volume, or a scratch volume labelled now. */
  async ensureVolume(): Promise<VolumeWriter> {
    if (this.writer) return this.writer;
    let volser = this.pendingVolser ?? this.host.allocateVolser();
    this.pendingVolser = null;
    const s = this.host.state.streams.get(this.stream);
    const settings = this.settings();
    // the volume file is created exclusively: a volser another instance labelled a moment ago is
    // refused (EEXIST) and the next free one taken
    for (let tries = 1; ; tries++) {
      try {
        return await this.labelVolume(volser, s?.volumeSeq ?? 0, settings);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries >= 100) throw e;
        this.host.log(`device ${this.key}: volser ${volser} was taken meanwhile; labelling another`);
        volser = this.host.allocateVolser();
      }
    }
  }

  private async labelVolume(volser: string, volumeSeq: number, settings: StreamSettings): Promise<VolumeWriter> {
    const w = await this.op(
      'label',
      VolumeWriter.label(
        this.device,
        {
          volser,
          stream: this.stream,
          streamFile: this.stream,
          sequence: volumeSeq + 1,
          createdAt: this.host.now(),
          tag: randomBytes(8).toString('hex'),
          capacity: Math.min(settings.volumeCapacity, this.device.capacity),
          ...(this.previousVolser ? { previousVolser: this.previousVolser } : {}),
        },
        { checkpointEveryBytes: settings.checkpointEveryBytes },
      ),
    );
    await this.op('sync', this.device.sync());
    this.writer = w;
    this.syncedEnd = this.device.end();
    await this.host.decideAndPublish({ type: 'MountVolume', device: this.name, label: w.label, labelled: true, at: this.host.now() });
    return w;
  }

  /** Finishes the mounted volume (trailer, next volser) and labels the next. */
  async rotate(): Promise<void> {
    await this.finishVolume(this.host.allocateVolser());
  }

  /** Finishes the mounted volume, if any (trailer written): VolumeFull. */
  async finishVolume(nextVolser: string | null = null): Promise<void> {
    const w = this.writer;
    if (!w) return;
    const { durable, volume } = await this.op('finish', w.finish({ finishedAt: this.host.now(), nextVolser }));
    this.unsynced = 0;
    await this.handOver(w.volser, durable);
    await this.host.decideAndPublish({ type: 'FinishVolume', volser: w.volser, bytes: volume.usedBytes, nextVolser, at: this.host.now() });
    this.previousVolser = w.volser;
    this.writer = null;
    await this.device.unmount();
    // the reserved successor is the volume this device labels next, so the chain holds
    this.pendingVolser = nextVolser;
  }

  /** the volser reserved as the finished volume's successor */
  pendingVolser: string | null = null;

  /** Released (idle or removed by the operator): its volume is finished, DeviceRemoved published. */
  private async release(): Promise<void> {
    const d = this.draining!;
    await this.finishVolume(null);
    await this.host.decideAndPublish({ type: 'RemoveDevice', stream: this.stream, device: this.name, reason: d.reason, at: this.host.now() }, () => d.done.resolve());
    this.stopped = true;
  }
}
