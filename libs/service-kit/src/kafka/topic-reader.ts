/**
 * Reads topics as a log, outside any service's consumer group: the one implementation of
 * "read a topic from a position up to its end" that services use to rebuild state (the
 * change logger from dsf.dlog, the save writer from dsf.events), tools use to replay (the
 * catalog rebuild) and `dsf` uses to follow outcomes (from the end).
 *
 * Each reader has a private consumer group whose start offsets are committed before it joins
 * (earliest = the log start offset, latest = the end, or a caller's checkpoint), so nothing
 * below them is fetched; its offsets are committed as it reads (a restarted consumer resumes),
 * and the group is deleted when the reader stops. `caughtUp` resolves once every partition was
 * read up to where it ended when the reader started (or up to `until`). A record that does not
 * decode is reported through `onUndecodable` and skipped: the topic's own consumer dead-letters
 * it. A handler that throws is not skipped: kafkajs retries it (handlers must be idempotent).
 */
import { randomUUID } from 'node:crypto';
import { decodeFrom, TYPE_HEADER, type AnyMessage, type TopicName } from '@deltaflow/contracts';
import type { Admin, Consumer, KafkaMessage } from 'kafkajs';
import { createKafka, type KafkaSecurity } from './kafka-client';

/** Where a record was read: topic, partition, offset (kafkajs' decimal string). */
export interface RecordAt {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** A record as a batch reader gets it: decoded, where it was read, and its raw value (for hashing). */
export interface ReadRecord<M> {
  readonly message: M;
  readonly at: RecordAt;
  readonly value: Buffer | null;
  /** the record's timestamp (ms since the epoch, as Kafka keeps it) */
  readonly timestamp: number;
}

/** `${topic}:${partition}` */
export type PartitionKey = string;
export const partitionKey = (topic: string, partition: number): PartitionKey => `${topic}:${partition}`;

export interface TopicReaderOptions<M extends AnyMessage = AnyMessage> {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly security?: KafkaSecurity;
  readonly topics: readonly TopicName[];
  /** where to start: the log start (default), the end, or per partition (others from the log start) */
  readonly from?: 'earliest' | 'latest' | ReadonlyMap<PartitionKey, bigint>;
  /** deliver only offsets below these (per partition); 'end' = the ends when the reader starts; a function gets each partition's end */
  readonly until?: 'end' | ReadonlyMap<PartitionKey, bigint> | ((topic: string, partition: number, end: bigint) => bigint);
  /** read only these partitions (by index, of every topic); all when absent */
  readonly partitions?: ReadonlySet<number>;
  /** message types not to decode (by the type header), e.g. bulk block images */
  readonly skipTypes?: readonly string[];
  /** one record at a time; or give onBatch instead */
  readonly onMessage?: (m: M, at: RecordAt) => void | Promise<void>;
  /**
   * a fetched batch of one partition at a time (ascending offsets; each record's raw value too):
   * for readers that apply many records per transaction. Takes precedence over onMessage.
   */
  readonly onBatch?: (records: Array<ReadRecord<M>>) => void | Promise<void>;
  /** with onBatch: partitions handled at once (default 1; each partition's batches stay in order) */
  readonly partitionsConcurrently?: number;
  readonly onUndecodable?: (at: RecordAt, err: Error) => void;
  readonly log?: (msg: string) => void;
}

export class TopicReader<M extends AnyMessage = AnyMessage> {
  private consumer?: Consumer;
  private admin?: Admin;
  private groupId = '';
  private readonly targets = new Map<PartitionKey, bigint>(); // where caughtUp is reached
  private readonly limits = new Map<PartitionKey, bigint>(); // no delivery at or above
  private readonly done = new Map<PartitionKey, bigint>(); // next offset to read
  private readonly startAt = new Map<PartitionKey, bigint>();
  private stopped = false;
  private resolveCaughtUp!: () => void;
  readonly caughtUp: Promise<void> = new Promise((r) => (this.resolveCaughtUp = r));
  /** records delivered to onMessage */
  delivered = 0;

  constructor(private readonly o: TopicReaderOptions<M>) {}

  async start(): Promise<void> {
    const kafka = createKafka({ clientId: this.o.clientId, brokers: this.o.brokers, security: this.o.security });
    this.admin = kafka.admin();
    await this.admin.connect();
    const existing = new Set(await this.admin.listTopics());
    const missing = this.o.topics.filter((t) => !existing.has(t));
    if (missing.length > 0) await this.admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true }).catch(() => false);
    this.groupId = `${this.o.clientId}.reader.${randomUUID()}`;
    const from = this.o.from ?? 'earliest';
    // a fresh group starts at the log start (fromBeginning); other starts are seeks once it runs
    const seeks: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const t of this.o.topics) {
      for (const p of await this.admin.fetchTopicOffsets(t)) {
        const key = partitionKey(t, p.partition);
        const low = BigInt(p.low);
        const high = BigInt(p.high);
        if (this.o.partitions && !this.o.partitions.has(p.partition)) {
          // not asked for: started at its end, never delivered (what is appended later is still fetched)
          this.limits.set(key, high);
          this.done.set(key, high);
          this.startAt.set(key, high);
          if (high > low) seeks.push({ topic: t, partition: p.partition, offset: high.toString() });
          continue;
        }
        const asked = from === 'earliest' ? low : from === 'latest' ? high : (from.get(key) ?? low);
        // a checkpoint outside the log (the topic was recreated, or truncated below it) reads from the log start
        const start = asked >= low && asked <= high ? asked : low;
        const u = this.o.until;
        const until = u === undefined ? undefined : u === 'end' ? high : typeof u === 'function' ? u(t, p.partition, high) : u.get(key);
        if (until !== undefined) this.limits.set(key, until);
        const target = until !== undefined && until < high ? until : high;
        if (target > start) this.targets.set(key, target);
        this.done.set(key, start);
        this.startAt.set(key, start);
        if (start > low) seeks.push({ topic: t, partition: p.partition, offset: start.toString() });
      }
    }
    // short long-polls: a reader is stopped promptly and sees new records soon
    this.consumer = kafka.consumer({ groupId: this.groupId, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxWaitTimeInMs: 250 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.o.topics], fromBeginning: true });
    const skip = new Set(this.o.skipTypes ?? []);
    // the record if it is to be delivered (below its limit, not a skipped type, decodable)
    const wanted = (topic: string, partition: number, message: KafkaMessage): M | undefined => {
      const key = partitionKey(topic, partition);
      const offset = BigInt(message.offset);
      // records below a seek's target can arrive before the seek applies: they were not asked for
      if (offset < (this.startAt.get(key) ?? 0n)) return undefined;
      const limit = this.limits.get(key);
      if (limit !== undefined && offset >= limit) return undefined;
      const type = message.headers?.[TYPE_HEADER]?.toString();
      if (type !== undefined && skip.has(type)) return undefined;
      try {
        return decodeFrom(topic as TopicName, message.value) as M;
      } catch (err) {
        const at: RecordAt = { topic, partition, offset: message.offset };
        (this.o.onUndecodable ?? ((a, e) => this.o.log?.(`${a.topic}[${a.partition}]@${a.offset} skipped (its consumer dead-letters it): ${e.message}`)))(at, err as Error);
        return undefined;
      }
    };
    const onBatch = this.o.onBatch;
    if (onBatch) {
      await this.consumer.run({
        autoCommit: true,
        partitionsConsumedConcurrently: this.o.partitionsConcurrently ?? 1,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const key = partitionKey(batch.topic, batch.partition);
          const out: Array<ReadRecord<M>> = [];
          let last: string | undefined;
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) break;
            const m = wanted(batch.topic, batch.partition, message);
            if (m !== undefined) out.push({ message: m, at: { topic: batch.topic, partition: batch.partition, offset: message.offset }, value: message.value, timestamp: Number(message.timestamp) });
            last = message.offset;
          }
          if (last === undefined) return;
          if (out.length > 0) await onBatch(out);
          this.delivered += out.length;
          resolveOffset(last);
          this.done.set(key, BigInt(last) + 1n);
          this.checkCaughtUp();
          await heartbeat();
        },
      });
    } else {
      const onMessage = this.o.onMessage ?? (() => undefined);
      await this.consumer.run({
        autoCommit: true,
        eachMessage: async ({ topic, partition, message }) => {
          const m = wanted(topic, partition, message);
          if (m !== undefined) {
            await onMessage(m, { topic, partition, offset: message.offset });
            this.delivered++;
          }
          this.done.set(partitionKey(topic, partition), BigInt(message.offset) + 1n);
          this.checkCaughtUp();
        },
      });
    }
    for (const s of seeks) this.consumer.seek(s);
    this.checkCaughtUp();
  }

  /** Next offset to read per partition, for a checkpoint. */
  positions(): Map<PartitionKey, bigint> {
    return new Map(this.done);
  }

  /**
   * Resolves once everything published to the topics before this call has been read: a
   * decision taken after it sees every event that preceded it.
   */
  async barrier(): Promise<void> {
    const targets = new Map<PartitionKey, bigint>();
    for (const t of this.o.topics)
      for (const p of await this.admin!.fetchTopicOffsets(t)) if (!this.o.partitions || this.o.partitions.has(p.partition)) targets.set(partitionKey(t, p.partition), BigInt(p.high));
    const reached = () => [...targets].every(([k, end]) => (this.done.get(k) ?? 0n) >= end);
    while (!reached()) {
      if (this.stopped) throw new Error('topic reader stopped');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private checkCaughtUp(): void {
    for (const [k, end] of this.targets) if ((this.done.get(k) ?? 0n) < end) return;
    this.resolveCaughtUp();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer?.disconnect().catch(() => undefined);
    // the private group has served its purpose: leave nothing behind on the broker
    if (this.groupId) await this.admin?.deleteGroups([this.groupId]).catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

/** Reads the topics from the log start to their current end, then stops; returns the number of records delivered. */
export async function readToEnd<M extends AnyMessage>(o: Omit<TopicReaderOptions<M>, 'until' | 'from'>): Promise<number> {
  const reader = new TopicReader<M>({ ...o, until: 'end' });
  try {
    await reader.start();
    await reader.caughtUp;
    return reader.delivered;
  } finally {
    await reader.stop();
  }
}
