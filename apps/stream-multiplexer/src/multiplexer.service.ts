/**
 * The stream multiplexer (seed: ExHPDM's server task), as a Nest provider. Every state change is
 * the stream decider's (@deltaflow/tape `sovDecider`): this provider asks it, publishes what it
 * decided on sov.events (outbox.ts), and does the I/O the decisions name. Its parts:
 * admission.ts (sov.superblocks), commands.ts (sov.commands), balancer.ts (devices added and
 * released by backlog, alerts, /status), serving.ts (which streams this instance serves).
 *
 * - Start: folds sov.events (TopicReader) into the decider's state. The streams it serves come
 *   with its partitions (sov.superblocks and sov.commands are keyed by stream and assigned
 *   co-partitioned): for each stream gained it waits until no other live instance serves it,
 *   takes the stream's state from sov.events, reconciles the stream's volumes the events do not
 *   call finished (VolumeWriter.resume cuts a torn tail; what a volume holds beyond the events
 *   becomes events, so nothing is written twice), deletes volumes whose scratch was decided, and
 *   starts a loop per active device; only then does the spool deliver the partition's records.
 * - A stream lost on a rebalance (or at a clean stop): its devices sync what they wrote and
 *   publish its placements, then StreamReleased; what was not placed is read again by the next
 *   server from the committed offset (below the lowest unplaced superblock).
 * - A device error or timeout: DeviceFailed and VolumeSuspect, the volume is cut back to its last
 *   sync, the device's client files move to another device (added if need be) and their unsynced
 *   superblocks are read again from Kafka (the spool seeks back).
 */
import * as fs from 'node:fs';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { encodeMessage, Topic, type AnyMessage, type MessageOfType, type TopicMessage } from '@deltaflow/contracts';
import { Assignments, createKafka, DiskSpaceWatch, EventPublisher, TopicReader } from '@deltaflow/service-kit';
import {
  activeDevices,
  allocateVolser,
  FileDevice,
  foldSov,
  initialSovState,
  nextDeviceName,
  scanVolume,
  sovDecider,
  SovRejectedError,
  volumePath,
  VolumeWriter,
  type Device,
  type Durable,
  type SovCommand,
  type SovEvent,
  type SovState,
  type StreamState,
} from '@deltaflow/tape';
import type { Admin } from 'kafkajs';
import { SuperblockAdmission } from './admission';
import { StreamBalancer } from './balancer';
import { SovCommands } from './commands';
import type { StreamMultiplexerConfig } from './config';
import { SovOutbox } from './outbox';
import { ClientFileRuntime, Deferred, type PendingSuperblock } from './runtime/client-file';
import { DeviceRuntime, MeteredDevice, type DeviceHost } from './runtime/device';
import { MemoryBudget } from './runtime/memory';
import { StreamServing } from './serving';
import { Reclaimer } from './reclaimer';
import { Verifier } from './verifier';
import { type Admission, type SpoolContext, type SpoolServer } from './spool/spool-server';

export const MULTIPLEXER_CONFIG = Symbol('MULTIPLEXER_CONFIG');

type Superblock = MessageOfType<'Superblock'>;
type SovCommandMessage = TopicMessage<'sov.commands'>;

@Injectable()
export class StreamMultiplexerService implements OnModuleInit, OnApplicationShutdown, DeviceHost {
  readonly state: SovState = sovDecider.initialState();
  /** this instance among the multiplexer's group (its partitions; the spool reports them) */
  readonly assignments = new Assignments();
  readonly memory: MemoryBudget;
  readonly admission = new SuperblockAdmission(this);
  private readonly commands = new SovCommands(this);
  private readonly balancer = new StreamBalancer(this);
  private readonly serving = new StreamServing(this);
  readonly verifier = new Verifier(this);
  readonly reclaimer = new Reclaimer(this);
  readonly files = new Map<string, ClientFileRuntime>();
  readonly devices = new Map<string, DeviceRuntime>();
  /** streams this instance serves (writes the volumes of) */
  readonly served = new Set<string>();
  spool?: SpoolServer;
  private readonly logger = new Logger('stream-multiplexer');
  private publisher!: EventPublisher<AnyMessage>;
  private admin?: Admin;
  private readonly outbox = new SovOutbox(() => this.publisher, this);
  private readonly reserved = new Set<string>();
  closed = false;
  stopping = false;
  private timers: NodeJS.Timeout[] = [];
  library!: FileDevice;
  /** free space of the volume directory: metrics and a warning below DELTAFLOW_DISK_MIN_FREE_BYTES / _PERCENT */
  private disk?: DiskSpaceWatch;
  readonly runLatencyMs: number;
  readonly syncBytes: number;
  readonly syncMs: number;
  readonly deviceTimeoutMs: number;

  constructor(@Inject(MULTIPLEXER_CONFIG) readonly config: StreamMultiplexerConfig) {
    this.runLatencyMs = config.runLatencyMs;
    this.syncBytes = config.syncBytes;
    this.syncMs = config.syncMs;
    this.deviceTimeoutMs = config.deviceTimeoutMs;
    this.memory = new MemoryBudget(config.memoryBytes);
  }

  get instanceId(): string {
    return this.assignments.instanceId;
  }

  get groupId(): string {
    return this.config.groupId ?? 'deltaflow.stream-multiplexer';
  }

  now(): number {
    return (this.config.now ?? Date.now)();
  }

  log(msg: string): void {
    if (this.config.log) this.config.log(msg);
    else this.logger.log(msg);
  }

  alert(msg: string): void {
    if (this.config.log) this.config.log(`ALERT ${msg}`);
    else this.logger.warn(`ALERT ${msg}`);
  }

  /** The spool (the Kafka transport), so a failed device can read superblocks again. */
  attachSpool(spool: SpoolServer): void {
    this.spool = spool;
  }

  kafkaAdmin(): Admin {
    if (!this.admin) throw new Error('the multiplexer is not started');
    return this.admin;
  }

  // ------------------------------------------------------------------------------------------
  // Start: the state; the streams come with the partitions (serving.ts)

  async onModuleInit(): Promise<void> {
    fs.mkdirSync(this.config.volumeDir, { recursive: true });
    this.library = new FileDevice({ dir: this.config.volumeDir, capacity: Number.MAX_SAFE_INTEGER, name: 'library' });
    this.disk = new DiskSpaceWatch({ dirs: { volumes: this.config.volumeDir }, log: this.log }).start();
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
    const { state } = await this.foldEvents();
    this.adoptState(state, () => true);
    this.assignments.listen((change) => this.serving.onAssignment(change));
    this.timers.push(setInterval(() => void this.admission.checkParked(this.assignments.indices()), 200));
    this.timers.push(setInterval(() => this.balancer.balance(), 1000));
    this.verifier.start();
  }

  /** A fold of sov.events from the start to its end now, and the volumes whose scratch was decided (and not undone). */
  async foldEvents(): Promise<{ state: SovState; scratched: Set<string> }> {
    const state = initialSovState();
    const scratched = new Set<string>();
    const reader = new TopicReader<TopicMessage<'sov.events'>>({
      brokers: this.config.brokers,
      clientId: `${this.config.clientId ?? 'stream-multiplexer'}-rebuild`,
      topics: [Topic.sovEvents],
      until: 'end',
      onMessage: (e) => {
        foldSov(state, [e as SovEvent]);
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
    return { state, scratched };
  }

  /** Takes the state of the streams `which` picks from a fold (the state of streams served here is this instance's own). */
  adoptState(from: SovState, which: (stream: string) => boolean): void {
    const take = (stream: string) => which(stream) && !this.served.has(stream);
    for (const [k, v] of [...this.state.volumes]) if (take(v.stream)) this.state.volumes.delete(k);
    for (const [k, f] of [...this.state.files]) if (take(f.stream)) this.state.files.delete(k);
    for (const [k, s] of from.streams) if (take(s.name)) this.state.streams.set(k, s);
    for (const [k, v] of from.volumes) if (take(v.stream)) this.state.volumes.set(k, v);
    for (const [k, f] of from.files) if (take(f.stream)) this.state.files.set(k, f);
    for (const [k, inc] of from.names) {
      const f = from.files.get(inc);
      if (f && take(f.stream)) this.state.names.set(k, inc);
    }
  }

  /** A stream defined through this instance: served here from now. */
  serveNew(stream: string): Promise<void> {
    return this.serving.markServed(stream);
  }

  /** The streams served here. */
  servedStreams(): StreamState[] {
    return [...this.served].map((s) => this.state.streams.get(s)).filter((s): s is StreamState => !!s);
  }

  /** The library's volumes of `streams` that the events do not call finished are reconciled, decided scratches carried out. */
  async reconcileLibrary(streams: ReadonlySet<string>, scratched: ReadonlySet<string>): Promise<void> {
    for (const volser of await this.library.list()) {
      const v = this.state.volumes.get(volser);
      if (v && (!streams.has(v.stream) || v.status !== 'mounted')) continue;
      if (!v && emptyFile(volumePath(this.config.volumeDir, volser))) continue; // claimed, not labelled yet (or never)
      if (!v && scratched.has(volser)) {
        const label = (await scanVolume(this.library, volser)).label;
        if (label && streams.has(label.stream)) {
          await this.library.scratch(volser);
          this.log(`volume ${volser}: scratched (decided before the restart)`);
        }
      } else await this.reconcileVolume(volser, streams);
    }
    await this.library.unmount();
  }

  /** A volume the events do not call finished: what it holds beyond them becomes events. */
  private async reconcileVolume(volser: string, streams: ReadonlySet<string>): Promise<void> {
    const scan = await scanVolume(this.library, volser);
    const l = scan.label;
    if (l && !streams.has(l.stream)) return; // another instance's stream
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
  async ensureDevices(stream: string): Promise<void> {
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
      if (this.served.has(stream)) rt.start();
    }
  }

  private makeDevice(stream: string, device: string, rateBytesPerSec: number | undefined, capacity: number): Device {
    const spec = { stream, device, dir: this.config.volumeDir, capacity, ...(rateBytesPerSec ? { rateBytesPerSec } : {}) };
    return this.config.deviceFactory?.(spec) ?? new FileDevice({ name: `${stream}/${device}`, dir: spec.dir, capacity, ...(rateBytesPerSec ? { rateBytesPerSec } : {}) });
  }

  // ------------------------------------------------------------------------------------------
  // Deciding and publishing

  /** Decides, folds the events into the state at once, queues them for publication; `after` runs once published. */
  decide(command: SovCommand, after?: () => void): SovEvent[] {
    const events = sovDecider.decide(command, this.state);
    foldSov(this.state, events);
    if (command.type === 'MountVolume') this.reserved.delete(command.label.volser);
    void this.outbox.enqueue(events, after);
    return events;
  }

  decideAndPublish(command: SovCommand, after?: () => void): Promise<void> {
    const events = sovDecider.decide(command, this.state);
    foldSov(this.state, events);
    if (command.type === 'MountVolume') this.reserved.delete(command.label.volser);
    return this.outbox.enqueue(events, after);
  }

  async decideAndPublishEvents(command: SovCommand): Promise<SovEvent[]> {
    const events = sovDecider.decide(command, this.state);
    foldSov(this.state, events);
    await this.outbox.enqueue(events);
    return events;
  }

  drainOutbox(): Promise<void> {
    return this.outbox.drain();
  }

  // ------------------------------------------------------------------------------------------
  // DeviceHost

  memoryPressure(): boolean {
    return this.memory.pressure;
  }

  /** A volser nobody uses: not in the events, not reserved here, no file of that name (the device's exclusive create settles a race with another instance). */
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
      this.memory.free(freed);
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


  forget(f: ClientFileRuntime): void {
    this.files.delete(f.incarnation);
    f.device?.files.delete(f);
    this.memory.free(f.heldBytes());
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
        this.memory.free(p.payload.length);
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
  assignDevice(f: ClientFileRuntime): void {
    if (f.device && !f.device.failed) return;
    let best: DeviceRuntime | null = null;
    for (const d of this.devices.values()) {
      if (d.stream !== f.stream || d.failed || d.draining || d.stopped) continue;
      if (!best || d.files.size < best.files.size || (d.files.size === best.files.size && d.heldBytes() < best.heldBytes())) best = d;
    }
    if (best) this.assign(f, best);
  }


  // ------------------------------------------------------------------------------------------
  // The spool's records

  onSuperblock(sb: Superblock, ctx: SpoolContext): Admission {
    return this.admission.onSuperblock(sb, ctx);
  }

  onUndecodableSuperblock(value: Buffer | null, reason: string): void {
    this.admission.onUndecodable(value, reason);
  }

  async onCommand(c: SovCommandMessage, ctx: SpoolContext): Promise<Admission> {
    try {
      return await this.commands.handle(c);
    } finally {
      this.admission.noteCommand(ctx);
    }
  }

  async scratch(volser: string): Promise<void> {
    try {
      await this.library.scratch(volser);
      this.log(`volume ${volser} returned to scratch`);
    } catch (e) {
      this.log(`volume ${volser}: scratch decided, file not removed: ${(e as Error).message}`);
    }
  }

  startDevices(): void {
    for (const d of this.devices.values()) d.start();
  }

  adoptOrphans(stream: string): void {
    for (const f of this.files.values()) if (f.stream === stream && !f.device) this.assignDevice(f);
  }

  /** Gives a client file up: queued superblocks are dropped, an abort record follows its last durable run. */
  abort(f: ClientFileRuntime, reason: string): Promise<void> {
    if (f.abortRequest) return f.abortRequest.done.promise;
    this.log(`client file ${f.clientFile} (${f.incarnation}) aborted: ${reason}`);
    f.abortRequest = { reason, done: new Deferred() };
    const dropped = [...f.queue.splice(0), ...f.ahead.values()];
    f.ahead.clear();
    f.aheadSince = null;
    for (const p of dropped) this.memory.free(p.payload.length);
    f.releaseAll();
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


  /** What /status shows. */
  status() {
    return { instance: this.instanceId, ...this.balancer.status() };
  }

  /** Device runtimes (benchmarks read their utilisation). */
  deviceRuntimes(): DeviceRuntime[] {
    return [...this.devices.values()];
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.disk?.stop();
    this.verifier.stop();
    // a clean stop: what was written is synced and published (a crash leaves it to the reconcile)
    for (const d of this.devices.values()) {
      await d.stop();
      if (!d.failed) await d.flush().catch((e) => this.log(`device ${d.key}: final sync failed: ${(e as Error).message}`));
      await d.device.unmount().catch(() => undefined);
    }
    await this.outbox.drain();
    // the next server of each stream need not wait for this instance to leave the group
    for (const s of [...this.served]) await this.decideAndPublish({ type: 'ReleaseStream', stream: s, instance: this.instanceId, at: this.now() }).catch(() => undefined);
    this.closed = true;
    await this.publisher?.close();
    await this.admin?.disconnect().catch(() => undefined);
  }

}

function emptyFile(file: string): boolean {
  try {
    return fs.statSync(file).size === 0;
  } catch {
    return false;
  }
}

