/**
 * The stream multiplexer (seed: ExHPDM's server task), as a Nest provider. Every state change is
 * the stream decider's (@deltaflow/tape `sovDecider`): this provider asks it, publishes what it
 * decided on sov.events, and does the I/O the decisions name.
 *
 * - Start: folds sov.events (TopicReader) into the decider's state; reconciles every volume of the
 *   library the events do not call finished (VolumeWriter.resume cuts a torn tail; what the volume
 *   holds beyond the events becomes events, so nothing is written twice); deletes volumes whose
 *   scratch was decided; starts a loop per active device. Only then does the spool consume.
 * - sov.commands: stream and device definitions, client file open / close / abort / expire.
 * - sov.superblocks: a superblock of a known client file, next in sequence, is taken into its
 *   queue (memory bound: the spool pauses); its record is settled, and the consumer offset may pass
 *   it, once its run is durable and RunPlaced published. A superblock of a client file not known
 *   yet waits until sov.commands was read to its end (the open may still be on its way), then is
 *   dead-lettered. Duplicates (redeliveries) are settled once the original is placed.
 * - A device error or timeout: DeviceFailed and VolumeSuspect, the volume is cut back to its last
 *   sync, the device's client files move to another device (added if need be) and their unsynced
 *   superblocks are read again from Kafka (the spool seeks back).
 * - Balancing: a stream whose backlog (memory plus consumer lag, in bytes) exceeds its objective
 *   × SOV_BACKLOG_SECONDS gets another device, up to its maximum; a device above the minimum idle
 *   for SOV_IDLE_RELEASE_MS is released. An alert is logged when unplaced data nears the topic's
 *   retention.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { encodeMessage, ContractError, readEnvelope, Topic, type AnyMessage, type MessageOfType, type TopicMessage } from '@deltaflow/contracts';
import { createKafka, EventPublisher, RejectedRecord, TopicReader } from '@deltaflow/service-kit';
import {
  activeDevices,
  admitSuperblock,
  allocateVolser,
  codecSpec,
  FileDevice,
  foldSov,
  nextDeviceName,
  scanVolume,
  sovDecider,
  SovRejectedError,
  SuperblockCodec,
  volumePath,
  VolumeWriter,
  type Device,
  type Durable,
  type OpenRecord,
  type SovCommand,
  type SovEvent,
  type SovState,
} from '@deltaflow/tape';
import type { Admin } from 'kafkajs';
import type { StreamMultiplexerConfig } from './config';
import { ClientFileRuntime, Deferred, type PendingSuperblock } from './runtime/client-file';
import { DeviceRuntime, MeteredDevice, type DeviceHost } from './runtime/device';
import { TAKEN, type Admission, type SpoolContext, type SpoolServer } from './spool/spool-server';

export const MULTIPLEXER_CONFIG = Symbol('MULTIPLEXER_CONFIG');

type Superblock = MessageOfType<'Superblock'>;
type SovCommandMessage = TopicMessage<'sov.commands'>;

interface Parked {
  readonly sb: Superblock;
  readonly ctx: SpoolContext;
  readonly done: Deferred;
  readonly at: number;
}

@Injectable()
export class StreamMultiplexerService implements OnModuleInit, OnApplicationShutdown, DeviceHost {
  readonly state: SovState = sovDecider.initialState();
  private readonly logger = new Logger('stream-multiplexer');
  private publisher!: EventPublisher<AnyMessage>;
  private admin?: Admin;
  private spool?: SpoolServer;
  private readonly files = new Map<string, ClientFileRuntime>();
  private readonly devices = new Map<string, DeviceRuntime>();
  private readonly parked = new Map<string, Parked[]>();
  private readonly reserved = new Set<string>();
  private buffered = 0;
  private memoryWaiter: Deferred | null = null;
  private readonly outbox: Array<{ events: SovEvent[]; after?: () => void; done: Deferred }> = [];
  private pumping = false;
  private closed = false;
  /** next sov.commands offset handled, per partition */
  private readonly commandsNext = new Map<number, bigint>();
  /** sov.superblocks partition of each stream (the balancer's lag), and the mean superblock size */
  private readonly streamPartition = new Map<string, number>();
  private meanSuperblock = 256 * 1024;
  private readonly lastDeviceAdded = new Map<string, number>();
  private lastRetentionAlert = 0;
  private timers: NodeJS.Timeout[] = [];
  private library!: FileDevice;
  readonly runLatencyMs: number;
  readonly syncBytes: number;
  readonly syncMs: number;
  readonly deviceTimeoutMs: number;

  constructor(@Inject(MULTIPLEXER_CONFIG) private readonly config: StreamMultiplexerConfig) {
    this.runLatencyMs = config.runLatencyMs;
    this.syncBytes = config.syncBytes;
    this.syncMs = config.syncMs;
    this.deviceTimeoutMs = config.deviceTimeoutMs;
  }

  now(): number {
    return (this.config.now ?? Date.now)();
  }

  log(msg: string): void {
    if (this.config.log) this.config.log(msg);
    else this.logger.log(msg);
  }

  private alert(msg: string): void {
    if (this.config.log) this.config.log(`ALERT ${msg}`);
    else this.logger.warn(`ALERT ${msg}`);
  }

  /** The spool (the Kafka transport), so a failed device can read superblocks again. */
  attachSpool(spool: SpoolServer): void {
    this.spool = spool;
  }

  // ------------------------------------------------------------------------------------------
  // Start: rebuild, reconcile, resume

  async onModuleInit(): Promise<void> {
    fs.mkdirSync(this.config.volumeDir, { recursive: true });
    this.library = new FileDevice({ dir: this.config.volumeDir, capacity: Number.MAX_SAFE_INTEGER, name: 'library' });
    const clientId = this.config.clientId ?? 'stream-multiplexer';
    this.publisher = new EventPublisher<AnyMessage>(this.config.brokers, clientId, (m) => encodeMessage(m));
    await this.publisher.connect();
    const kafka = createKafka({ clientId: `${clientId}-admin`, brokers: this.config.brokers });
    this.admin = kafka.admin();
    await this.admin.connect();
    // the topics it reads (kafka-topics makes them in a deployment; an embedded broker on first use)
    const existing = new Set(await this.admin.listTopics());
    const missing = [Topic.sovSuperblocks, Topic.sovCommands, Topic.sovEvents].filter((t) => !existing.has(t));
    if (missing.length) await this.admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true }).catch(() => false);

    // 1. the state: a fold of sov.events
    const scratched = new Set<string>();
    const reader = new TopicReader<TopicMessage<'sov.events'>>({
      brokers: this.config.brokers,
      clientId: `${clientId}-rebuild`,
      topics: [Topic.sovEvents],
      until: 'end',
      onMessage: (e) => {
        foldSov(this.state, [e as SovEvent]);
        if (e.type === 'VolumeScratched') scratched.add(e.volser);
        if (e.type === 'VolumeMounted') scratched.delete(e.volser);
      },
    });
    try {
      await reader.start();
      await reader.caughtUp;
    } finally {
      await reader.stop();
    }

    // 2. the library: what the events do not know yet, and scratch decisions not carried out
    for (const volser of await this.library.list()) {
      const v = this.state.volumes.get(volser);
      if (!v && scratched.has(volser)) {
        await this.library.scratch(volser);
        this.log(`volume ${volser}: scratched (decided before the restart)`);
      } else if (!v || v.status === 'mounted') {
        await this.reconcileVolume(volser);
      }
    }
    await this.library.unmount();
    await this.drainOutbox();

    // 3. devices, their mounted volumes resumed; 4. open client files
    for (const s of this.state.streams.values()) await this.ensureDevices(s.name);
    for (const f of this.state.files.values()) {
      if (f.status !== 'open' || this.files.has(f.incarnation)) continue;
      let codec: SuperblockCodec;
      try {
        codec = SuperblockCodec.open(f.open, this.config.operatorKey);
      } catch (e) {
        this.alert(`client file ${f.clientFile} (${f.incarnation}) cannot be continued: ${(e as Error).message}`);
        continue;
      }
      const rt = new ClientFileRuntime(f.open, codec, { superblocks: f.placed, bytes: f.bytes, last: f.last }, false);
      this.files.set(f.incarnation, rt);
      const d = f.device ? this.devices.get(`${f.stream}/${f.device}`) : undefined;
      if (d && !d.failed && !d.draining) this.assign(rt, d);
      else this.assignDevice(rt);
    }

    // where the commands consumer stands (for superblocks of client files not known yet)
    const committed = await this.admin.fetchOffsets({ groupId: this.config.groupId ?? 'deltaflow.stream-multiplexer', topics: [Topic.sovCommands] }).catch(() => []);
    const lows = await this.admin.fetchTopicOffsets(Topic.sovCommands).catch(() => []);
    for (const p of lows) {
      const c = committed.find((t) => t.topic === Topic.sovCommands)?.partitions.find((x) => x.partition === p.partition);
      this.commandsNext.set(p.partition, c && Number(c.offset) >= 0 ? BigInt(c.offset) : BigInt(p.low));
    }

    this.pendingStart = false;
    this.startDevices();
    this.timers.push(setInterval(() => void this.checkParked(), 200));
    this.timers.push(setInterval(() => this.balance(), 1000));
    this.log(
      `ready: ${this.state.streams.size} streams, ${this.devices.size} devices, ${this.files.size} open client files, ${this.state.volumes.size} volumes in ${this.config.volumeDir}`,
    );
  }

  /** A volume the events do not call finished: what it holds beyond them becomes events. */
  private async reconcileVolume(volser: string): Promise<void> {
    const scan = await scanVolume(this.library, volser);
    const l = scan.label;
    if (!l) {
      this.alert(`volume ${volser}: no readable label or label copy; left alone (${scan.damage.map((d) => `${d.position}: ${d.reason}`).join('; ')})`);
      return;
    }
    const s = this.state.streams.get(l.stream);
    if (!s) {
      this.alert(`volume ${volser} belongs to stream ${l.stream}, which is not defined; left alone`);
      return;
    }
    const device = this.state.volumes.get(volser)?.device ?? activeDevices(s).find((d) => d.volser === null)?.name ?? activeDevices(s)[0]?.name ?? 'd1';
    const events = this.decide({ type: 'Reconcile', device, scan, at: this.now() });
    if (events.length) this.log(`volume ${volser}: reconciled after a restart: ${events.map((e) => e.type).join(', ')}`);
    for (const d of scan.damage) if (d.kind !== 'truncated') this.alert(`volume ${volser} damaged at position ${d.position}: ${d.reason}`);
  }

  /** Runtimes for the stream's active devices (their mounted volumes resumed). */
  private async ensureDevices(stream: string): Promise<void> {
    const s = this.state.streams.get(stream);
    if (!s) return;
    for (const d of activeDevices(s)) {
      const key = `${stream}/${d.name}`;
      if (this.devices.has(key)) continue;
      const inner = this.makeDevice(stream, d.name, d.rateBytesPerSec ?? s.settings.deviceRateBytesPerSec, s.settings.volumeCapacity);
      const rt = new DeviceRuntime(this, stream, d.name, new MeteredDevice(inner), () => this.state.streams.get(stream)!.settings);
      const chain = [...this.state.volumes.values()].filter((v) => v.device === d.name && v.stream === stream && v.status !== 'mounted').sort((a, b) => b.sequence - a.sequence);
      rt.previousVolser = chain[0]?.volser ?? null;
      if (d.volser && this.state.volumes.get(d.volser)?.status === 'mounted') {
        try {
          const { writer } = await VolumeWriter.resume(rt.device, d.volser, { checkpointEveryBytes: s.settings.checkpointEveryBytes });
          rt.writer = writer;
          rt.syncedEnd = rt.device.end();
          this.log(`device ${key}: volume ${d.volser} resumed at position ${rt.syncedEnd}`);
        } catch (e) {
          this.decide({ type: 'ReportDamage', volser: d.volser, device: d.name, reason: `cannot be resumed: ${(e as Error).message}`, at: this.now() });
        }
      }
      this.devices.set(key, rt);
      if (!this.pendingStart) rt.start();
    }
  }

  private pendingStart = true;

  private makeDevice(stream: string, device: string, rateBytesPerSec: number | undefined, capacity: number): Device {
    const spec = { stream, device, dir: this.config.volumeDir, capacity, ...(rateBytesPerSec ? { rateBytesPerSec } : {}) };
    return this.config.deviceFactory?.(spec) ?? new FileDevice({ name: `${stream}/${device}`, dir: spec.dir, capacity, ...(rateBytesPerSec ? { rateBytesPerSec } : {}) });
  }

  // ------------------------------------------------------------------------------------------
  // Deciding and publishing

  /** Decides, folds the events into the state at once, queues them for publication; `after` runs once published. */
  private decide(command: SovCommand, after?: () => void): SovEvent[] {
    const events = sovDecider.decide(command, this.state);
    foldSov(this.state, events);
    if (command.type === 'MountVolume') this.reserved.delete(command.label.volser);
    void this.enqueue(events, after);
    return events;
  }

  decideAndPublish(command: SovCommand, after?: () => void): Promise<void> {
    const events = sovDecider.decide(command, this.state);
    foldSov(this.state, events);
    if (command.type === 'MountVolume') this.reserved.delete(command.label.volser);
    return this.enqueue(events, after);
  }

  private enqueue(events: SovEvent[], after?: () => void): Promise<void> {
    const done = new Deferred();
    this.outbox.push({ events, after, done });
    void this.pump();
    return done.promise;
  }

  /** Publishes the outbox in decision order (coalesced into one request while one is in flight), retrying until Kafka takes it. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.outbox.length) {
        const batch = this.outbox.splice(0, this.outbox.length);
        const records = [];
        for (const e of batch.flatMap((b) => b.events)) {
          try {
            records.push(encodeMessage(e as AnyMessage));
          } catch (err) {
            if (!(err instanceof ContractError)) throw err;
            this.alert(`event ${e.type} does not fit its contract and is not published: ${err.message}`);
          }
        }
        for (let attempt = 0; records.length; attempt++) {
          try {
            await this.publisher.publishEncoded(records.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: { ...r.headers } })));
            break;
          } catch (err) {
            if (this.closed) throw err;
            this.log(`publishing ${records.length} events failed (retrying): ${(err as Error).message}`);
            await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
          }
        }
        for (const b of batch) {
          try {
            b.after?.();
          } catch (err) {
            this.log(`after publishing: ${(err as Error).message}`);
          }
          b.done.resolve();
        }
      }
    } catch (err) {
      for (const b of this.outbox.splice(0)) b.done.reject(err);
    } finally {
      this.pumping = false;
    }
  }

  private async drainOutbox(): Promise<void> {
    while (this.outbox.length || this.pumping) await new Promise((r) => setTimeout(r, 5));
  }

  // ------------------------------------------------------------------------------------------
  // DeviceHost

  memoryPressure(): boolean {
    return this.buffered > this.config.memoryBytes * 0.9;
  }

  allocateVolser(): string {
    const v = allocateVolser(this.state, this.config.volserPrefix, (x) => this.reserved.has(x) || fs.existsSync(volumePath(this.config.volumeDir, x)));
    this.reserved.add(v);
    return v;
  }

  async durable(device: DeviceRuntime, volser: string, durable: Durable, placed: Map<ClientFileRuntime, PendingSuperblock[]>): Promise<void> {
    if (!durable.runs.length && !durable.opens.length && !durable.closes.length && !durable.aborts.length) return;
    let freed = 0;
    for (const sbs of placed.values()) for (const s of sbs) freed += s.payload.length;
    const byInc = (inc: string) => this.files.get(inc);
    this.decide({ type: 'RecordDurable', volser, durable, at: this.now() }, () => {
      for (const f of placed.keys()) {
        const s = this.state.files.get(f.incarnation);
        if (s) f.notePlaced(s.placed, s.bytes);
      }
      this.free(freed);
      for (const o of durable.opens) byInc(o.record.incarnation)?.opened.resolve();
      for (const c of durable.closes) {
        const f = byInc(c.record.incarnation);
        if (!f) continue;
        f.closeRequest?.done.resolve();
        this.forget(f);
        this.log(`client file ${f.clientFile} (${f.incarnation}) closed: ${c.record.superblocks} superblocks, ${c.record.bytes} bytes`);
      }
      for (const a of durable.aborts) {
        const f = byInc(a.record.incarnation);
        if (!f) continue;
        f.abortRequest?.done.resolve();
        f.closeRequest?.done.reject(new SovRejectedError('CLIENT_FILE_ABORTED', `client file ${f.clientFile} was aborted: ${a.record.reason}`));
        f.releaseAll();
        this.forget(f);
      }
      device.wake();
    });
  }

  private forget(f: ClientFileRuntime): void {
    this.files.delete(f.incarnation);
    f.device?.files.delete(f);
    this.free(f.heldBytes());
  }

  private free(bytes: number): void {
    this.buffered = Math.max(0, this.buffered - bytes);
    if (this.memoryWaiter && this.buffered < this.config.memoryBytes * 0.75) {
      this.memoryWaiter.resolve();
      this.memoryWaiter = null;
    }
  }

  private memoryFreed(): Promise<void> {
    this.memoryWaiter ??= new Deferred();
    return this.memoryWaiter.promise;
  }

  async deviceFailed(device: DeviceRuntime, error: unknown): Promise<void> {
    const reason = `${(error as Error)?.message ?? error}`.slice(0, 2000);
    this.alert(`device ${device.key} failed: ${reason}`);
    this.devices.delete(device.key);
    const volser = device.writer?.volser;
    try {
      this.decide({ type: 'FailDevice', stream: device.stream, device: device.name, reason, position: device.syncedEnd, at: this.now() });
    } catch (e) {
      this.log(`recording the failure of ${device.key}: ${(e as Error).message}`);
    }
    // The unsynced tail is cut, so the volume holds exactly what its RunPlaced events say.
    if (volser) {
      try {
        await Promise.race([
          (async () => {
            if (device.device.mounted !== volser) await device.device.mount(volser);
            await device.device.truncate(device.syncedEnd);
            await device.device.sync();
          })(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), this.deviceTimeoutMs)),
        ]);
      } catch (e) {
        this.alert(`volume ${volser}: its unsynced tail after ${device.syncedEnd} could not be cut (${(e as Error).message}); a scan will show superblocks no RunPlaced names`);
      }
      await device.device.unmount().catch(() => undefined);
    }
    // Its client files go to another device; what was not durable is read again from Kafka.
    const seekTo = new Map<number, bigint>();
    for (const f of [...device.files]) {
      const dropped = [...f.inflight.splice(0), ...f.queue.splice(0), ...f.ahead.values()];
      f.ahead.clear();
      f.aheadSince = null;
      for (const p of dropped) {
        this.buffered -= p.payload.length;
        const at = seekTo.get(p.partition);
        if (at === undefined || p.offset < at) seekTo.set(p.partition, p.offset);
      }
      const s = this.state.files.get(f.incarnation);
      f.next = s?.placed ?? 0;
      if (f.lastSeq !== null && f.lastSeq >= f.next) f.lastSeq = null;
      f.openPending = !s;
      f.closeWritten = false;
      f.abortWritten = false;
      f.device = null;
    }
    const orphans = [...device.files];
    device.files.clear();
    this.free(0);
    for (const [p, offset] of seekTo) this.spool?.seek(Topic.sovSuperblocks, p, offset);
    const s = this.state.streams.get(device.stream);
    if (s && !activeDevices(s).some((d) => this.devices.has(`${s.name}/${d.name}`))) {
      try {
        this.decide({ type: 'AddDevice', stream: s.name, device: nextDeviceName(s), at: this.now() });
      } catch (e) {
        this.alert(`stream ${s.name}: no device left and none can be added: ${(e as Error).message}`);
      }
    }
    await this.ensureDevices(device.stream);
    for (const f of orphans) this.assignDevice(f);
  }

  // ------------------------------------------------------------------------------------------
  // Client files and devices

  private assign(f: ClientFileRuntime, d: DeviceRuntime): void {
    f.device = d;
    d.files.add(f);
    d.wake();
  }

  /** The least loaded device of the file's stream that takes client files (one chain per file: kept until that device fails). */
  private assignDevice(f: ClientFileRuntime): void {
    if (f.device && !f.device.failed) return;
    let best: DeviceRuntime | null = null;
    for (const d of this.devices.values()) {
      if (d.stream !== f.stream || d.failed || d.draining || d.stopped) continue;
      if (!best || d.files.size < best.files.size || (d.files.size === best.files.size && d.heldBytes() < best.heldBytes())) best = d;
    }
    if (best) this.assign(f, best);
  }

  // ------------------------------------------------------------------------------------------
  // sov.superblocks

  onSuperblock(sb: Superblock, ctx: SpoolContext): Admission {
    this.streamPartition.set(sb.stream, ctx.partition);
    this.meanSuperblock = this.meanSuperblock * 0.99 + sb.payload.length * 0.01;
    const f = this.files.get(sb.incarnation);
    if (!f) {
      // closed, aborted or expired (a redelivery is settled; anything new is refused) …
      if (this.state.files.has(sb.incarnation)) {
        admitSuperblock(this.state, sb, null);
        return TAKEN;
      }
      // … or its open is still on its way on sov.commands
      return this.park(sb, ctx);
    }
    return this.take(f, sb, ctx, false);
  }

  /** Takes a superblock of a client file it knows (`force`: even beyond the memory limit, for superblocks already held). */
  private take(f: ClientFileRuntime, sb: Superblock, ctx: SpoolContext, force: boolean): Admission {
    let verdict: 'accept' | 'ahead' | 'duplicate';
    try {
      verdict = admitSuperblock(this.state, sb, f.next, this.config.reorderWindow);
    } catch (e) {
      if (e instanceof SovRejectedError && e.code === 'OUT_OF_SEQUENCE') this.abort(f, `superblock ${sb.seq} out of sequence (expected ${f.next})`);
      throw e;
    }
    if (f.abortRequest) return TAKEN; // the file is being given up: its superblocks are consumed, not placed
    if (verdict === 'duplicate' || (verdict === 'ahead' && f.ahead.has(sb.seq))) return { taken: true, done: f.placedPromise(sb.seq) };
    const n = sb.payload.length;
    if (!force && this.buffered + n > this.config.memoryBytes && this.buffered > 0) return { taken: false, retry: this.memoryFreed() };
    this.buffered += n;
    // a copy: the decoded payload is a view into kafkajs' whole fetch response, which a superblock
    // waiting for its run would otherwise keep alive (and the memory bound would not see)
    const payload = Buffer.from(sb.payload);
    const p: PendingSuperblock = { seq: sb.seq, last: sb.last, payload, crc: sb.crc, partition: ctx.partition, offset: BigInt(ctx.offset), takenAt: performance.now() };
    if (verdict === 'ahead') {
      f.ahead.set(sb.seq, p);
      f.aheadSince ??= this.now();
      return { taken: true, done: f.placedPromise(sb.seq) };
    }
    this.queueUp(f, p);
    // the gap filled: what waited behind it follows
    for (let next = f.ahead.get(f.next); next; next = f.ahead.get(f.next)) {
      f.ahead.delete(next.seq);
      this.queueUp(f, next);
    }
    f.aheadSince = f.ahead.size ? this.now() : null;
    if (!f.device) this.assignDevice(f);
    f.device?.wake();
    return { taken: true, done: f.placedPromise(sb.seq) };
  }

  private queueUp(f: ClientFileRuntime, p: PendingSuperblock): void {
    f.queue.push(p);
    f.next++;
    if (p.last) f.lastSeq = p.seq;
  }

  /** A superblock that did not decode (a CRC mismatch): its client file, if open here, can never be whole. */
  onUndecodableSuperblock(value: Buffer | null, reason: string): void {
    try {
      const env = readEnvelope(value);
      const inc = (env.fields as { incarnation?: unknown }).incarnation;
      const f = typeof inc === 'string' ? this.files.get(inc) : undefined;
      if (f) this.abort(f, `superblock ${(env.fields as { seq?: unknown }).seq} refused: ${reason}`.slice(0, 2000));
    } catch {
      /* not even an envelope: nobody's client file */
    }
  }

  private park(sb: Superblock, ctx: SpoolContext): Admission {
    const d = new Deferred();
    let list = this.parked.get(sb.incarnation);
    if (!list) this.parked.set(sb.incarnation, (list = []));
    list.push({ sb, ctx, done: d, at: this.now() });
    this.buffered += sb.payload.length;
    return { taken: true, done: d.promise };
  }

  /** Superblocks that waited for their client file's open: admitted now. */
  private unpark(f: ClientFileRuntime): void {
    const list = this.parked.get(f.incarnation);
    if (!list) return;
    this.parked.delete(f.incarnation);
    for (const p of list.sort((a, b) => a.sb.seq - b.sb.seq)) {
      this.buffered -= p.sb.payload.length;
      try {
        const a = this.take(f, p.sb, p.ctx, true);
        if (a.taken && a.done) a.done.then(p.done.resolve, p.done.reject);
        else p.done.resolve();
      } catch (e) {
        p.done.reject(e);
      }
    }
  }

  /** Parked superblocks whose open never came: refused once sov.commands was read to its end. */
  private async checkParked(): Promise<void> {
    if (this.parked.size === 0 || !this.admin) return;
    const asked = this.now();
    let highs;
    try {
      highs = await this.admin.fetchTopicOffsets(Topic.sovCommands);
    } catch {
      return;
    }
    const caughtUp = highs.every((p) => (this.commandsNext.get(p.partition) ?? 0n) >= BigInt(p.high));
    if (!caughtUp) return;
    for (const [inc, list] of this.parked) {
      const stale = list.filter((p) => p.at <= asked);
      if (!stale.length || this.files.has(inc)) continue;
      this.parked.set(
        inc,
        list.filter((p) => p.at > asked),
      );
      if (!this.parked.get(inc)!.length) this.parked.delete(inc);
      for (const p of stale) {
        this.buffered -= p.sb.payload.length;
        const known = this.state.streams.has(p.sb.stream);
        p.done.reject(
          known
            ? new SovRejectedError('UNKNOWN_CLIENT_FILE', `no open client file ${p.sb.stream}/${p.sb.clientFile} with incarnation ${inc} (sov.commands read to its end)`, 'incarnation')
            : new SovRejectedError('UNKNOWN_STREAM', `stream ${p.sb.stream} is not defined`, 'stream'),
        );
      }
    }
    this.free(0);
  }

  // ------------------------------------------------------------------------------------------
  // sov.commands

  async onCommand(c: SovCommandMessage, ctx: SpoolContext): Promise<Admission> {
    try {
      return await this.command(c);
    } finally {
      const next = BigInt(ctx.offset) + 1n;
      if ((this.commandsNext.get(ctx.partition) ?? 0n) < next) this.commandsNext.set(ctx.partition, next);
    }
  }

  private async command(c: SovCommandMessage): Promise<Admission> {
    const at = this.now();
    switch (c.type) {
      case 'StreamDefine': {
        const { type: _t, stream, correlationId: _c, ...settings } = c;
        const done = this.decideAndPublish({ type: 'DefineStream', stream, settings, defaults: this.config.streamDefaults, at });
        await this.ensureDevices(stream);
        this.startDevices();
        this.adoptOrphans(stream);
        return { taken: true, done };
      }
      case 'DeviceAdd': {
        const done = this.decideAndPublish({ type: 'AddDevice', stream: c.stream, device: c.device, ...(c.rateBytesPerSec ? { rateBytesPerSec: c.rateBytesPerSec } : {}), at });
        await this.ensureDevices(c.stream);
        this.startDevices();
        this.adoptOrphans(c.stream);
        return { taken: true, done };
      }
      case 'DeviceRemove': {
        const d = this.devices.get(`${c.stream}/${c.device}`);
        if (!d) return { taken: true, done: this.decideAndPublish({ type: 'RemoveDevice', stream: c.stream, device: c.device, reason: 'removed by the operator', at }) };
        d.draining ??= { reason: 'removed by the operator', done: new Deferred(), operator: true };
        d.wake();
        return { taken: true, done: d.draining.done.promise.then(() => void this.devices.delete(d.key)) };
      }
      case 'ClientFileOpen':
        return this.openFile(c, at);
      case 'ClientFileClose': {
        const f = this.files.get(c.incarnation);
        if (!f) {
          const s = this.state.files.get(c.incarnation);
          if (s?.status === 'closed' && s.close?.sha256 === c.sha256 && s.placed === c.superblocks) return TAKEN; // a redelivery
          if (s?.status === 'aborted') throw new SovRejectedError('CLIENT_FILE_ABORTED', `client file ${c.clientFile} (${c.incarnation}) was aborted: ${s.abort?.reason ?? ''}`, 'incarnation');
          throw new SovRejectedError(s ? 'CLIENT_FILE_CLOSED' : 'UNKNOWN_CLIENT_FILE', `no open client file ${c.stream}/${c.clientFile} with incarnation ${c.incarnation}`, 'incarnation');
        }
        if (f.clientFile !== c.clientFile || f.stream !== c.stream) throw new SovRejectedError('CONFLICT', `incarnation ${c.incarnation} is ${f.stream}/${f.clientFile}`, 'incarnation');
        if (f.closeRequest) return { taken: true, done: f.closeRequest.done.promise };
        if (f.next > c.superblocks) {
          this.abort(f, `the close says ${c.superblocks} superblocks, ${f.next} arrived`);
          throw new SovRejectedError('CONFLICT', `close of ${c.clientFile}: ${c.superblocks} superblocks, ${f.next} arrived; the client file is aborted`, 'superblocks');
        }
        f.closeRequest = { superblocks: c.superblocks, bytes: c.bytes, sha256: c.sha256, done: new Deferred() };
        if (!f.device) this.assignDevice(f);
        f.device?.wake();
        return { taken: true, done: f.closeRequest.done.promise };
      }
      case 'ClientFileAbort': {
        const f = this.files.get(c.incarnation);
        if (!f) {
          if (this.state.files.get(c.incarnation)?.status === 'aborted') return TAKEN;
          throw new SovRejectedError('UNKNOWN_CLIENT_FILE', `no open client file ${c.stream}/${c.clientFile} with incarnation ${c.incarnation}`, 'incarnation');
        }
        return { taken: true, done: this.abort(f, c.reason) };
      }
      case 'ClientFileExpire': {
        const events = await this.decideAndPublishEvents({ type: 'Expire', incarnation: c.incarnation, at });
        for (const e of events) if (e.type === 'VolumeScratched') await this.scratch(e.volser);
        return TAKEN;
      }
      default: {
        const never: never = c;
        throw new RejectedRecord('UNKNOWN_TYPE', `unexpected command ${JSON.stringify(never).slice(0, 100)}`);
      }
    }
  }

  private async decideAndPublishEvents(command: SovCommand): Promise<SovEvent[]> {
    const events = sovDecider.decide(command, this.state);
    foldSov(this.state, events);
    await this.enqueue(events);
    return events;
  }

  private async scratch(volser: string): Promise<void> {
    try {
      await this.library.scratch(volser);
      this.log(`volume ${volser} returned to scratch`);
    } catch (e) {
      this.log(`volume ${volser}: scratch decided, file not removed: ${(e as Error).message}`);
    }
  }

  private startDevices(): void {
    for (const d of this.devices.values()) d.start();
  }

  private adoptOrphans(stream: string): void {
    for (const f of this.files.values()) if (f.stream === stream && !f.device) this.assignDevice(f);
  }

  private async openFile(c: MessageOfType<'ClientFileOpen'>, at: number): Promise<Admission> {
    const existing = this.files.get(c.incarnation);
    if (existing) {
      if (existing.clientFile !== c.clientFile || existing.stream !== c.stream) throw new SovRejectedError('CONFLICT', `incarnation ${c.incarnation} is ${existing.stream}/${existing.clientFile}`, 'incarnation');
      return { taken: true, done: existing.opened.promise };
    }
    const known = this.state.files.get(c.incarnation);
    if (known) {
      if (known.clientFile !== c.clientFile || known.stream !== c.stream) throw new SovRejectedError('CONFLICT', `incarnation ${c.incarnation} is ${known.stream}/${known.clientFile}`, 'incarnation');
      return TAKEN; // a redelivery: its open record is on a volume already
    }
    const s = this.state.streams.get(c.stream);
    if (!s) throw new SovRejectedError('UNKNOWN_STREAM', `stream ${c.stream} is not defined (send StreamDefine first)`, 'stream');
    const compression = c.compression ?? s.settings.compression;
    const encryption = c.encryption ?? s.settings.encryption;
    if (encryption !== 'none' && !this.config.operatorKey) throw new SovRejectedError('CONFLICT', 'encryption asked, but the multiplexer has no operator key (SOV_OPERATOR_KEY_FILE)', 'encryption');
    const open: OpenRecord = {
      incarnation: c.incarnation,
      clientFile: c.clientFile,
      stream: c.stream,
      ...(c.dbid !== undefined ? { dbid: c.dbid } : {}),
      ...(c.dsid !== undefined ? { dsid: c.dsid } : {}),
      ...(c.kind !== undefined ? { kind: c.kind } : {}),
      ...(c.expiresAt !== undefined ? { expiresAt: c.expiresAt } : {}),
      ...(c.description !== undefined ? { description: c.description } : {}),
      openedAt: at,
      codec: codecSpec({ compression, ...(encryption !== 'none' ? { operatorKey: this.config.operatorKey, dataKey: randomBytes(32) } : {}) }),
    };
    this.decide({ type: 'CheckOpen', open });
    // A name reused while its previous incarnation is still open (a writer that crashed and
    // retries): the previous one is given up, so old and new never mix.
    for (const other of this.files.values())
      if (other.stream === c.stream && other.clientFile === c.clientFile && !other.abortRequest) this.abort(other, `superseded by incarnation ${c.incarnation}`);
    const f = new ClientFileRuntime(open, SuperblockCodec.open(open, this.config.operatorKey), { superblocks: 0, bytes: 0, last: false }, true);
    this.files.set(c.incarnation, f);
    this.assignDevice(f);
    this.unpark(f);
    return { taken: true, done: f.opened.promise };
  }

  /** Gives a client file up: queued superblocks are dropped, an abort record follows its last durable run. */
  private abort(f: ClientFileRuntime, reason: string): Promise<void> {
    if (f.abortRequest) return f.abortRequest.done.promise;
    this.log(`client file ${f.clientFile} (${f.incarnation}) aborted: ${reason}`);
    f.abortRequest = { reason, done: new Deferred() };
    const dropped = [...f.queue.splice(0), ...f.ahead.values()];
    f.ahead.clear();
    f.aheadSince = null;
    for (const p of dropped) this.buffered -= p.payload.length;
    f.releaseAll();
    this.free(0);
    if (!f.device) this.assignDevice(f);
    if (!f.device) {
      // no device at all: nothing of it is on a volume
      this.decide({ type: 'AbortUnwritten', incarnation: f.incarnation, stream: f.stream, clientFile: f.clientFile, reason, at: this.now() }, () => {
        f.abortRequest?.done.resolve();
        f.closeRequest?.done.reject(new SovRejectedError('CLIENT_FILE_ABORTED', reason));
        this.forget(f);
      });
    } else f.device.wake();
    return f.abortRequest.done.promise;
  }

  // ------------------------------------------------------------------------------------------
  // Balancing, alerts, status

  private balance(): void {
    const now = this.now();
    const spool = this.spool?.spoolOf(Topic.sovSuperblocks) ?? [];
    for (const s of this.state.streams.values()) {
      const devs = [...this.devices.values()].filter((d) => d.stream === s.name && !d.failed && !d.draining && !d.stopped);
      const p = this.streamPartition.get(s.name);
      const lag = spool.find((x) => x.partition === p)?.lag ?? 0n;
      let backlog = Number(lag) * this.meanSuperblock;
      for (const f of this.files.values()) if (f.stream === s.name) backlog += f.heldBytes();
      const objective = s.settings.objectiveBytesPerSec;
      if (objective && backlog > objective * this.config.backlogSeconds && activeDevices(s).length < s.settings.maxDevices && now - (this.lastDeviceAdded.get(s.name) ?? 0) > 5000) {
        this.lastDeviceAdded.set(s.name, now);
        const name = nextDeviceName(s);
        this.log(`stream ${s.name}: backlog ${Math.round(backlog / 1e6)} MB exceeds ${this.config.backlogSeconds} s of its objective (${objective} B/s): adding device ${name}`);
        try {
          this.decide({ type: 'AddDevice', stream: s.name, device: name, at: now });
          void this.ensureDevices(s.name).then(() => this.startDevices());
        } catch (e) {
          this.log(`stream ${s.name}: no device added: ${(e as Error).message}`);
        }
      } else if (devs.length > s.settings.minDevices) {
        const idle = devs.find((d) => d.files.size === 0 && now - d.lastBusyAt > this.config.idleReleaseMs);
        if (idle) {
          this.log(`device ${idle.key}: idle for ${this.config.idleReleaseMs} ms, released`);
          idle.draining = { reason: 'idle', done: new Deferred(), operator: false };
          idle.draining.done.promise.then(() => this.devices.delete(idle.key));
          idle.wake();
        }
      }
    }
    for (const f of [...this.files.values()])
      if (f.aheadSince !== null && now - f.aheadSince > this.config.reorderTimeoutMs && !f.abortRequest)
        this.abort(f, `superblock ${f.next} never arrived; ${f.ahead.size} later ones waited ${this.config.reorderTimeoutMs} ms`);
    for (const x of spool) {
      if (x.oldestMs !== null && x.oldestMs > this.config.retentionMs * 0.8 && now - this.lastRetentionAlert > 60_000) {
        this.lastRetentionAlert = now;
        this.alert(
          `sov.superblocks[${x.partition}]: a superblock not yet placed is ${Math.round(x.oldestMs / 1000)} s old, ${Math.round((100 * x.oldestMs) / this.config.retentionMs)} % of the topic's retention (${Math.round(this.config.retentionMs / 1000)} s): add devices or raise retention before Kafka deletes it`,
        );
      }
    }
  }

  /** What /status shows. */
  status() {
    return {
      streams: [...this.state.streams.values()].map((s) => ({
        stream: s.name,
        settings: s.settings,
        devices: [...s.devices.values()].map((d) => {
          const rt = this.devices.get(`${s.name}/${d.name}`);
          return { device: d.name, status: d.status, volser: d.volser, ...(rt ? { clientFiles: rt.files.size, heldBytes: rt.heldBytes(), draining: !!rt.draining, ...rt.utilisation() } : {}) };
        }),
        openClientFiles: [...this.files.values()].filter((f) => f.stream === s.name).length,
      })),
      memory: { bufferedBytes: this.buffered, limitBytes: this.config.memoryBytes },
      parked: [...this.parked.values()].reduce((n, l) => n + l.length, 0),
      spool: (this.spool?.spoolOf(Topic.sovSuperblocks) ?? []).map((x) => ({ partition: x.partition, unsettled: x.unsettled, oldestMs: x.oldestMs, lag: x.lag === null ? null : Number(x.lag) })),
    };
  }

  /** Device runtimes (benchmarks read their utilisation). */
  deviceRuntimes(): DeviceRuntime[] {
    return [...this.devices.values()];
  }

  async onApplicationShutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    // a clean stop: what was written is synced and published (a crash leaves it to the reconcile)
    for (const d of this.devices.values()) {
      await d.stop();
      if (!d.failed) await d.flush().catch((e) => this.log(`device ${d.key}: final sync failed: ${(e as Error).message}`));
      await d.device.unmount().catch(() => undefined);
    }
    await this.drainOutbox();
    this.closed = true;
    await this.publisher?.close();
    await this.admin?.disconnect().catch(() => undefined);
  }

}
