/**
 * The multiplexer's Kafka transport: Kafka is the spool. Like the service kit's KafkaEventServer
 * (decode at the edge, dead-letter what can never be accepted, `@EventPattern(Topic.x)` handlers),
 * but a record is committed only once it is *settled*, not when its handler returns:
 *
 * - a handler answers with an Admission: taken (settled now, or when `done` resolves: a superblock
 *   once its run is durable and its RunPlaced published) or not now (memory is full: the partition
 *   pauses until `retry` resolves and the record is fetched again);
 * - `done` rejecting with a rejection (coded, non-retriable) dead-letters the record, then settles it;
 * - per partition the committed offset is the lowest unsettled one (eachBatch, resolveOffset for
 *   every record taken, so fetching runs ahead of writing; commits are explicit and never pass a
 *   record that is not settled), so a restart re-reads exactly what was not yet placed;
 * - a rebalance: what the spool held of a partition it lost is forgotten (the new owner reads it
 *   again from the committed offset); the batches of a new assignment wait for its listeners;
 * - seek(topic, partition, offset) re-reads from an earlier offset (a failed device's unsynced
 *   superblocks): the records from there are forgotten and delivered again.
 *
 * Handlers must return quickly: kafkajs fetches again only once every batch of a fetch was handled.
 *
 * `unready()` / `dead()` (the `transport` checks of runService's /health) and the consumer lag of
 * /metrics come from the service kit's ConsumerMonitor on the spool's consumer: the lag of
 * sov.superblocks is what is not yet placed.
 */
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { ConsumerMonitor, createKafka, GroupMembership, isRejection, type Assignments, type DeadLetterInput, type KafkaSecurity, type TransportHealth } from '@deltaflow/service-kit';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { firstValueFrom, isObservable, defaultIfEmpty } from 'rxjs';

export interface SpoolContext {
  readonly topic: string;
  readonly partition: number;
  /** the record's offset (kafkajs' decimal string) */
  readonly offset: string;
  readonly key: string | null;
  readonly timestamp: string;
}

/** A handler's answer. */
export type Admission = { readonly taken: true; readonly done?: Promise<void> } | { readonly taken: false; readonly retry: Promise<void> };

export const TAKEN: Admission = { taken: true };

export interface SpoolServerOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly security?: KafkaSecurity;
  readonly groupId: string;
  /**
   * The instance's partitions (both topics are keyed by stream and assigned co-partitioned: a
   * stream's commands and superblocks go to one member); the batches of a new assignment wait
   * until its listeners took over the streams it brings.
   */
  readonly assignments?: Assignments;
  readonly decode: (topic: string, message: KafkaMessage) => unknown;
  readonly encodeDeadLetter: (input: DeadLetterInput) => { topic: string; key: string | null; value: Buffer };
  /** consumer session timeout (default 10 s: how long a crashed multiplexer's partitions wait) */
  readonly sessionTimeout?: number;
  /** bytes fetched per partition and request (default 32 MiB: 128 superblocks) */
  readonly maxBytesPerPartition?: number;
  readonly maxBytes?: number;
  /** how often settled offsets are committed (default 200 ms) */
  readonly commitIntervalMs?: number;
  readonly logger?: (msg: string) => void;
  /** told of every record that did not decode (after it was dead-lettered) */
  readonly onUndecodable?: (topic: string, value: Buffer | null, reason: string) => void;
}

interface Entry {
  readonly offset: bigint;
  readonly timestamp: number;
  settled: boolean;
}

/** Arrival-ordered offsets of one partition and which are settled. */
class Track {
  readonly entries: Entry[] = [];
  head = 0;
  /** the offset after the last record seen */
  next: bigint | null = null;
  committed: bigint | null = null;
  generation = 0;
  highWatermark: bigint | null = null;

  add(offset: bigint, timestamp: number): Entry {
    const e: Entry = { offset, timestamp, settled: false };
    this.entries.push(e);
    this.next = offset + 1n;
    return e;
  }

  /** The lowest unsettled offset, or the next one to read when everything seen is settled. */
  low(): bigint | null {
    while (this.head < this.entries.length && this.entries[this.head].settled) this.head++;
    if (this.head > 4096) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
    return this.head < this.entries.length ? this.entries[this.head].offset : this.next;
  }

  oldestUnsettled(): Entry | undefined {
    this.low();
    return this.entries[this.head];
  }

  unsettled(): number {
    this.low();
    let n = 0;
    for (let i = this.head; i < this.entries.length; i++) if (!this.entries[i].settled) n++;
    return n;
  }

  /** Forgets every record at or after `offset` (they will be delivered again). */
  rewind(offset: bigint): void {
    this.generation++;
    const keep = this.entries.filter((e, i) => i >= this.head && e.offset < offset);
    this.entries.length = 0;
    this.entries.push(...keep);
    this.head = 0;
    this.next = offset;
  }
}

export class SpoolServer extends Server implements CustomTransportStrategy, TransportHealth {
  private kafka?: Kafka;
  private consumer?: Consumer;
  private monitor?: ConsumerMonitor;
  private closed = false;
  private producer?: Producer;
  private admin?: Admin;
  private readonly tracks = new Map<string, Track>();
  private readonly paused = new Set<string>();
  private commitTimer?: NodeJS.Timeout;
  private committing = false;
  private running = false;
  private readonly membership: GroupMembership;

  constructor(private readonly options: SpoolServerOptions) {
    super();
    this.membership = new GroupMembership(options.groupId, options.assignments, options.logger);
  }

  on(): void {
    // status events are not exposed
  }

  /** Why the spool does not consume now (not in its group yet, restarting, stopped), or undefined. */
  unready(): string | undefined {
    if (this.closed) return 'spool: stopped';
    return this.monitor ? this.monitor.unready() : 'spool: not started';
  }

  /** Why the spool is gone for good (its consumer crashed and will not restart), or undefined. */
  dead(): string | undefined {
    return this.monitor?.dead();
  }

  unwrap<T>(): T {
    return { kafka: this.kafka, consumer: this.consumer, producer: this.producer } as T;
  }

  private track(topic: string, partition: number): Track {
    const k = `${topic}:${partition}`;
    let t = this.tracks.get(k);
    if (!t) this.tracks.set(k, (t = new Track()));
    return t;
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (err) {
      callback(err);
    }
  }

  private async start(): Promise<void> {
    const o = this.options;
    this.kafka = createKafka({ clientId: this.membership.clientId(o.clientId), brokers: o.brokers, security: o.security });
    this.producer = this.kafka.producer({ allowAutoTopicCreation: true });
    await this.producer.connect();
    this.consumer = this.kafka.consumer({
      groupId: o.groupId,
      // a multiplexer killed mid-stream is replaced quickly (its partitions wait for the session to expire)
      sessionTimeout: o.sessionTimeout ?? 10_000,
      heartbeatInterval: 1_000,
      maxBytesPerPartition: o.maxBytesPerPartition ?? 32 << 20,
      maxBytes: o.maxBytes ?? 128 << 20,
      maxWaitTimeInMs: 100,
      partitionAssigners: this.membership.partitionAssigners(),
    });
    const sessionTimeout = o.sessionTimeout ?? 10_000;
    this.monitor = new ConsumerMonitor({ kafka: this.kafka, consumer: this.consumer, groupId: o.groupId, staleAfterMs: sessionTimeout, log: o.logger });
    await this.consumer.connect();
    const topics = [...this.getHandlers().keys()];
    // A partition given to another member: what this one held of it is read again there.
    this.admin = this.membership.attach(this.kafka, this.consumer, (assignment) => {
      const assigned = new Set([...assignment].flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
      for (const k of [...this.tracks.keys()]) if (!assigned.has(k)) this.tracks.delete(k);
    });
    await this.consumer.subscribe({ topics, fromBeginning: true });
    this.running = true;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.commitTimer = setInterval(() => void this.commit(), o.commitIntervalMs ?? 200);
    o.logger?.(`consuming ${topics.join(', ')} as group ${o.groupId} (offsets committed below the lowest unsettled record)`);
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, isRunning, isStale, heartbeat } = payload;
    await this.membership.applied(heartbeat, isRunning);
    const handler = this.getHandlerByPattern(batch.topic);
    if (!handler) return;
    const t = this.track(batch.topic, batch.partition);
    t.highWatermark = BigInt(batch.highWatermark);
    const generation = t.generation;
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || t.generation !== generation) return;
      const offset = BigInt(m.offset);
      if (t.next !== null && offset < t.next) continue; // already taken (a refetch after a pause)
      const ctx: SpoolContext = { topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key ? m.key.toString() : null, timestamp: m.timestamp };
      let message: unknown;
      try {
        message = this.options.decode(batch.topic, m);
      } catch (err) {
        if (!isRejection(err)) throw err;
        await this.deadLetter(batch.topic, batch.partition, m, err);
        this.options.onUndecodable?.(batch.topic, m.value, err.message);
        if (t.generation !== generation) return;
        t.add(offset, Number(m.timestamp)).settled = true;
        resolveOffset(m.offset);
        continue;
      }
      let admission: Admission;
      try {
        admission = await this.invoke(handler, message, ctx);
      } catch (err) {
        if (!isRejection(err)) throw err;
        if (t.generation !== generation) return;
        await this.deadLetter(batch.topic, batch.partition, m, err);
        t.add(offset, Number(m.timestamp)).settled = true;
        resolveOffset(m.offset);
        continue;
      }
      // a seek while the handler ran: this record comes again from there, tracked then
      if (t.generation !== generation) return;
      if (!admission.taken) {
        this.pauseUntil(batch.topic, batch.partition, admission.retry);
        return;
      }
      const entry = t.add(offset, Number(m.timestamp));
      resolveOffset(m.offset);
      if (!admission.done) entry.settled = true;
      else
        admission.done.then(
          () => {
            // after a seek past it the entry is no longer tracked: settling it changes nothing
            entry.settled = true;
          },
          async (err) => {
            if (isRejection(err)) {
              await this.deadLetter(batch.topic, batch.partition, m, err).catch((e) => this.options.logger?.(`dead-lettering failed: ${(e as Error).message}`));
              entry.settled = true;
            } else {
              this.options.logger?.(`${batch.topic}[${batch.partition}]@${m.offset} not settled: ${(err as Error)?.message ?? err}`);
            }
          },
        );
    }
    await heartbeat();
  }

  private pauseUntil(topic: string, partition: number, retry: Promise<void>): void {
    const k = `${topic}:${partition}`;
    if (this.paused.has(k)) return;
    this.paused.add(k);
    this.consumer!.pause([{ topic, partitions: [partition] }]);
    const resume = () => {
      this.paused.delete(k);
      if (this.running) this.consumer!.resume([{ topic, partitions: [partition] }]);
    };
    retry.then(resume, resume);
  }

  private async invoke(handler: (...args: any[]) => any, data: unknown, ctx: SpoolContext): Promise<Admission> {
    const result = await handler(data, ctx);
    const a = isObservable(result) ? await firstValueFrom(result.pipe(defaultIfEmpty(undefined))) : result;
    return (a as Admission | undefined) ?? TAKEN;
  }

  private async deadLetter(topic: string, partition: number, m: KafkaMessage, error: { code: string; message: string; field?: string }): Promise<void> {
    const dl = this.options.encodeDeadLetter({ sourceTopic: topic, partition, offset: m.offset, key: m.key, value: m.value, error: { code: error.code, message: error.message, field: error.field } });
    await this.producer!.send({ topic: dl.topic, acks: -1, messages: [{ key: dl.key, value: dl.value }] });
    this.options.logger?.(`rejected ${topic}[${partition}]@${m.offset}: ${error.code}: ${error.message}`);
  }

  /** Commits, per partition, the lowest unsettled offset when it moved. */
  async commit(force = false): Promise<void> {
    if (this.committing || !this.consumer || (!this.running && !force)) return;
    this.committing = true;
    try {
      const offsets: Array<{ topic: string; partition: number; offset: string }> = [];
      for (const [k, t] of this.tracks) {
        const low = t.low();
        if (low === null || (t.committed !== null && low <= t.committed)) continue;
        const i = k.lastIndexOf(':');
        offsets.push({ topic: k.slice(0, i), partition: Number(k.slice(i + 1)), offset: low.toString() });
      }
      if (offsets.length === 0) return;
      await this.consumer.commitOffsets(offsets);
      for (const o of offsets) this.track(o.topic, o.partition).committed = BigInt(o.offset);
    } catch (err) {
      this.options.logger?.(`commit failed (retried): ${(err as Error).message}`);
    } finally {
      this.committing = false;
    }
  }

  /** Reads `topic`/`partition` again from `offset`: every record from there is delivered again. */
  seek(topic: string, partition: number, offset: bigint): void {
    const t = this.track(topic, partition);
    if (t.next !== null && offset >= t.next) return;
    t.rewind(offset);
    this.consumer?.seek({ topic, partition, offset: offset.toString() });
    this.options.logger?.(`re-reading ${topic}[${partition}] from ${offset}`);
  }

  /** Per partition of `topic`: records fetched but not settled, the oldest one's age, and the lag behind the high watermark. */
  spoolOf(topic: string): Array<{ partition: number; unsettled: number; oldestMs: number | null; lag: bigint | null; next: bigint | null }> {
    const out = [];
    for (const [k, t] of this.tracks) {
      const i = k.lastIndexOf(':');
      if (k.slice(0, i) !== topic) continue;
      const oldest = t.oldestUnsettled();
      out.push({
        partition: Number(k.slice(i + 1)),
        unsettled: t.unsettled(),
        oldestMs: oldest ? Date.now() - oldest.timestamp : null,
        lag: t.highWatermark !== null && t.next !== null ? t.highWatermark - t.next : null,
        next: t.next,
      });
    }
    return out;
  }

  async close(): Promise<void> {
    this.running = false;
    this.closed = true;
    clearInterval(this.commitTimer);
    await this.commit(true).catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.monitor?.stop();
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}
