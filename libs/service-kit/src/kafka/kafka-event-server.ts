/**
 * A NestJS microservice transport over kafkajs, built for event-sourced consumers:
 *
 * - handlers are ordinary `@EventPattern('<topic>')` methods; `@EventPattern(topic, { batch: true })`
 *   receives a whole fetched batch of one partition (for high-rate ingest);
 * - every record is decoded at the edge by the service's codec; a record that can never be
 *   accepted (decoding error, or a handler throwing a rejection) goes to `<topic>.dlq` with its
 *   reason and is committed past; any other error is transient and the record is retried;
 * - offsets are committed only after their records were handled (at least once): handlers must
 *   be idempotent, which every Deltaflow consumer is (position guards or insert-or-ignore);
 * - it reports what it does to the process's metrics (records handled, dead-lettered and retried,
 *   handler time, consumer lag per assigned partition: observability/metrics.ts) and whether it
 *   consumes (`unready()`, `dead()`: the `kafka` check of /health).
 */
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { firstValueFrom, isObservable, defaultIfEmpty } from 'rxjs';
import { isRejection, ServiceKitError } from '../errors';
import type { Assignments } from './assignments';
import { GroupMembership } from './group-membership';
import { ConsumerMonitor } from '../observability/consumer-monitor';
import { serviceMetrics } from '../observability/metrics';
import { createKafka, type KafkaSecurity } from './kafka-client';

/** Where a record came from; passed to every handler. */
export interface KafkaEventContext {
  readonly topic: string;
  readonly partition: number;
  /** the record's offset, as kafkajs gives it (a decimal string) */
  readonly offset: string;
  readonly key: string | null;
  readonly timestamp: string;
  /** the record's raw value (what a consumer hashes for tamper evidence) */
  readonly value?: Buffer | null;
  heartbeat(): Promise<void>;
}

export interface DecodedRecord<M = unknown> {
  readonly message: M;
  readonly ctx: KafkaEventContext;
}

/** What a batch handler may report: records it rejected (they go to the dead-letter topic). */
export interface BatchOutcome {
  rejected?: Array<{ offset: string; error: { code: string; message: string; field?: string } }>;
}

export interface DeadLetterInput {
  sourceTopic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  error: { code: string; message: string; field?: string };
}

export interface KafkaEventServerOptions {
  brokers: readonly string[];
  clientId: string;
  /** default: from the environment */
  security?: KafkaSecurity;
  groupId: string;
  /** decodes one record; throws a coded error for bad input */
  decode: (topic: string, message: KafkaMessage) => unknown;
  /** encodes the dead-letter record for `<sourceTopic>.dlq` */
  encodeDeadLetter: (input: DeadLetterInput) => { topic: string; key: string | null; value: Buffer; headers?: Record<string, string> };
  /** where a new consumer group starts; event-sourced consumers start at the beginning */
  fromBeginning?: boolean;
  sessionTimeout?: number;
  heartbeatInterval?: number;
  rebalanceTimeout?: number;
  /** fetch sizes (kafkajs defaults 1 MiB / 10 MiB): larger fetches make larger batches for batch handlers */
  maxBytesPerPartition?: number;
  maxBytes?: number;
  /**
   * partitions handled at once (kafkajs' partitionsConsumedConcurrently, default 1); each
   * partition's batches stay in order: for batch handlers whose work per partition is independent
   */
  partitionsConsumedConcurrently?: number;
  /**
   * The instance's partitions, told on every assignment; the batches of a new assignment wait
   * until its listeners rebuilt their state. Partitions are assigned co-partitioned (one
   * database's partitions of every subscribed topic to one member: co-partitioned-assigner.ts).
   */
  assignments?: Assignments;
  /** how often the consumer lag is measured (default 5000 ms; 0 = never) */
  lagIntervalMs?: number;
  /** not ready after this long without a fetch or heartbeat (default: the session timeout) */
  staleAfterMs?: number;
  logger?: (msg: string) => void;
}

/**
 * kafkajs gives up for good on a TypeError, RangeError, ReferenceError or SyntaxError (and on
 * `retriable: false`): its consumer stops and never restarts. A handler's failure that is not a
 * rejection is transient here, whatever its class: it is retried (kafkajs' backoff, then a restart).
 */
function retriable(err: unknown): unknown {
  const e = err as { name?: unknown; retriable?: unknown } | null;
  const fatalToKafkajs = !!e && (e.retriable === false || (typeof e.name === 'string' && ['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError'].includes(e.name)));
  if (!fatalToKafkajs) return err;
  const wrapped = new Error(`${String(e.name ?? 'Error')}: ${(err as Error).message ?? err}`, { cause: err }) as Error & { retriable: boolean };
  wrapped.name = 'HandlerError';
  wrapped.retriable = true;
  if ((err as Error).stack) wrapped.stack = (err as Error).stack;
  return wrapped;
}

export class KafkaEventServer extends Server implements CustomTransportStrategy {
  private kafka?: Kafka;
  private consumer?: Consumer;
  private producer?: Producer;
  private admin?: Admin;
  private readonly membership: GroupMembership;
  private monitor?: ConsumerMonitor;
  private closed = false;

  constructor(private readonly options: KafkaEventServerOptions) {
    super();
    this.membership = new GroupMembership(options.groupId, options.assignments, options.logger);
  }

  get assignments(): Assignments {
    return this.membership.assignments;
  }

  /** Why the transport does not consume now (undefined: it does). */
  unready(): string | undefined {
    if (this.closed) return 'kafka transport: stopped';
    return this.monitor ? this.monitor.unready() : 'kafka transport: not started';
  }

  /** Why the transport is gone for good (its consumer crashed and will not restart), or undefined. */
  dead(): string | undefined {
    return this.monitor?.dead();
  }

  /** Measures the consumer lag now (it is also measured every lagIntervalMs). */
  refreshLag(): Promise<void> {
    return this.monitor?.refreshLag() ?? Promise.resolve();
  }

  on(): void {
    // Status events are not exposed; kafkajs instrumentation is available through unwrap().
  }

  unwrap<T>(): T {
    return { kafka: this.kafka, consumer: this.consumer, producer: this.producer } as T;
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
    this.producer = this.kafka.producer({ idempotent: false, allowAutoTopicCreation: true });
    await this.producer.connect();
    this.consumer = this.kafka.consumer({
      groupId: o.groupId,
      // KAFKA_SESSION_TIMEOUT_MS: how soon a killed instance's partitions move to the others (Kafka's default 30 s hides a crash for that long)
      sessionTimeout: o.sessionTimeout ?? sessionTimeoutFromEnv() ?? 30_000,
      heartbeatInterval: o.heartbeatInterval ?? Math.max(500, Math.floor((o.sessionTimeout ?? sessionTimeoutFromEnv() ?? 30_000) / 10)),
      rebalanceTimeout: o.rebalanceTimeout ?? 60_000,
      // long-polls of 1 s (kafkajs: 5 s): a stopping service leaves its group within a second
      maxWaitTimeInMs: 1_000,
      ...(o.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: o.maxBytesPerPartition } : {}),
      ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}),
      partitionAssigners: this.membership.partitionAssigners(),
    });
    this.admin = this.membership.attach(this.kafka, this.consumer);
    const consumer = this.consumer;
    this.assignments.setSeeker((topic, partition, offset) => consumer.seek({ topic, partition, offset: offset.toString() }));
    this.monitor = new ConsumerMonitor({
      kafka: this.kafka,
      consumer: this.consumer,
      groupId: o.groupId,
      lagIntervalMs: o.lagIntervalMs,
      staleAfterMs: o.staleAfterMs ?? o.sessionTimeout ?? 30_000,
      log: o.logger,
    });
    await this.consumer.connect();
    const topics = [...this.getHandlers().keys()];
    if (topics.length > 0) {
      await this.consumer.subscribe({ topics, fromBeginning: o.fromBeginning ?? true });
    }
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      ...(o.partitionsConsumedConcurrently !== undefined ? { partitionsConsumedConcurrently: o.partitionsConsumedConcurrently } : {}),
      eachBatch: (payload) => this.handleBatch(payload),
    });
    o.logger?.(`consuming ${topics.join(', ') || '(nothing)'} as group ${o.groupId}`);
  }

  /** Resolves once the instance consumes: its first assignment is applied (at once when it subscribes to nothing). */
  ready(): Promise<void> {
    return this.getHandlers().size > 0 ? this.assignments.firstApplied : Promise.resolve();
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    try {
      await this.handleBatchOf(payload);
    } catch (err) {
      // transient: kafkajs retries the batch from the last resolved offset
      serviceMetrics().handlerErrors.inc({ group: this.options.groupId, topic: payload.batch.topic });
      throw retriable(err);
    }
  }

  private async handleBatchOf(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    await this.membership.applied(heartbeat, isRunning);
    const handler = this.getHandlerByPattern(batch.topic);
    if (!handler) return;
    const labels = { group: this.options.groupId, topic: batch.topic };
    const metrics = serviceMetrics();
    const batchMode = Boolean((handler.extras as { batch?: boolean } | undefined)?.batch);
    const decoded: DecodedRecord[] = [];
    const byOffset = new Map<string, KafkaMessage>();

    for (const m of batch.messages) {
      if (!isRunning() || isStale()) return;
      const ctx: KafkaEventContext = {
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key ? m.key.toString() : null,
        timestamp: m.timestamp,
        value: m.value,
        heartbeat,
      };
      let message: unknown;
      try {
        message = this.options.decode(batch.topic, m);
      } catch (err) {
        if (!isRejection(err)) throw err;
        if (batchMode) {
          // Keep order: flush what was decoded so far before dead-lettering this record.
          await this.runBatch(handler, decoded, byOffset, resolveOffset);
          decoded.length = 0;
          byOffset.clear();
        }
        await this.deadLetter(batch.topic, batch.partition, m, err);
        resolveOffset(m.offset);
        continue;
      }
      if (batchMode) {
        decoded.push({ message, ctx });
        byOffset.set(m.offset, m);
        continue;
      }
      const stopTimer = metrics.handlerSeconds.startTimer(labels);
      try {
        await this.invoke(handler, message, ctx);
        metrics.handled.inc(labels);
      } catch (err) {
        if (!isRejection(err)) throw err;
        await this.deadLetter(batch.topic, batch.partition, m, err);
      } finally {
        stopTimer();
      }
      resolveOffset(m.offset);
      await heartbeat();
    }
    if (batchMode) await this.runBatch(handler, decoded, byOffset, resolveOffset);
    await commitOffsetsIfNecessary();
  }

  private async runBatch(
    handler: (...args: any[]) => any,
    decoded: DecodedRecord[],
    byOffset: Map<string, KafkaMessage>,
    resolveOffset: (offset: string) => void,
  ): Promise<void> {
    if (decoded.length === 0) return;
    const labels = { group: this.options.groupId, topic: decoded[0].ctx.topic };
    const metrics = serviceMetrics();
    const stopTimer = metrics.handlerSeconds.startTimer(labels);
    let outcome: BatchOutcome | undefined;
    try {
      outcome = (await this.invoke(handler, decoded, decoded[0].ctx)) as BatchOutcome | undefined;
    } finally {
      stopTimer();
    }
    let rejected = 0;
    for (const r of outcome?.rejected ?? []) {
      const m = byOffset.get(r.offset);
      if (!m) continue;
      await this.deadLetter(decoded[0].ctx.topic, decoded[0].ctx.partition, m, r.error);
      rejected++;
    }
    if (decoded.length > rejected) metrics.handled.inc(labels, decoded.length - rejected);
    resolveOffset(decoded[decoded.length - 1].ctx.offset);
  }

  private async invoke(handler: (...args: any[]) => any, data: unknown, ctx: KafkaEventContext): Promise<unknown> {
    const result = await handler(data, ctx);
    if (isObservable(result)) return firstValueFrom(result.pipe(defaultIfEmpty(undefined)));
    return result;
  }

  private async deadLetter(topic: string, partition: number, m: KafkaMessage, error: { code: string; message: string; field?: string }) {
    const dl = this.options.encodeDeadLetter({
      sourceTopic: topic,
      partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
      error: { code: error.code, message: error.message, field: error.field },
    });
    await this.producer!.send({ topic: dl.topic, acks: -1, messages: [{ key: dl.key, value: dl.value, ...(dl.headers ? { headers: dl.headers } : {}) }] });
    serviceMetrics().deadLettered.inc({ group: this.options.groupId, topic, code: error.code });
    this.options.logger?.(`rejected ${topic}[${partition}]@${m.offset}: ${error.code}: ${error.message}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.monitor?.stop();
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

/** KAFKA_SESSION_TIMEOUT_MS (6000..300000), undefined when unset; a bad value stops the start. */
function sessionTimeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.KAFKA_SESSION_TIMEOUT_MS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 6000 || n > 300_000) throw new ServiceKitError('CONFIG', `KAFKA_SESSION_TIMEOUT_MS: expected milliseconds in 6000..300000 (Kafka's group.min/max.session.timeout.ms), got "${raw}"`);
  return n;
}
