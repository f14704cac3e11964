/**
 * Reads topics from offset 0 (or from a caller's checkpoint, see `startAt`) with a private
 * consumer group (nothing committed matters), so the save writer knows, before it decides anything, what the log says:
 * the nucleus state per database, the sync points answered, the DLOG captures, and the save
 * and DSIM events. `caughtUp` resolves once every partition was read up to where it stood
 * when the tail started. BlockChanged records (block images, the bulk of dsf.block-changes)
 * are skipped by their type header without decoding.
 */
import { randomUUID } from 'node:crypto';
import { decodeFrom, TYPE_HEADER, type TopicMessage, type TopicName } from '@deltaflow/contracts';
import { Admin, Consumer, Kafka, logLevel } from 'kafkajs';

export type TailMessage = TopicMessage<'dsf.block-changes'> | TopicMessage<'dsf.dlog'> | TopicMessage<'dsf.events'>;

export interface LogTailOptions {
  readonly brokers: string[];
  readonly clientId: string;
  readonly topics: readonly TopicName[];
  /** message types not to decode (by the type header) */
  readonly skipTypes?: readonly string[];
  readonly onMessage: (m: TailMessage, topic: string) => void;
  readonly log?: (msg: string) => void;
  /**
   * Where to resume some partitions instead of offset 0 (`${topic}:${partition}` → next
   * offset), from a checkpoint whose state the caller restored first. A partition whose
   * offset is beyond its end now (the topic was recreated) is read from 0.
   */
  readonly startAt?: ReadonlyMap<string, bigint>;
}

export class LogTail {
  private consumer?: Consumer;
  private admin?: Admin;
  private readonly targets = new Map<string, bigint>(); // `${topic}:${partition}` → end offset at start
  private readonly done = new Map<string, bigint>(); // next offset read
  private stopped = false;
  private resolveCaughtUp!: () => void;
  readonly caughtUp: Promise<void> = new Promise((r) => (this.resolveCaughtUp = r));

  constructor(private readonly o: LogTailOptions) {}

  async start(): Promise<void> {
    const kafka = new Kafka({ clientId: this.o.clientId, brokers: this.o.brokers, logLevel: logLevel.WARN, retry: { retries: 10 } });
    this.admin = kafka.admin();
    await this.admin.connect();
    const existing = new Set(await this.admin.listTopics());
    const missing = this.o.topics.filter((t) => !existing.has(t));
    if (missing.length > 0) await this.admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true }).catch(() => false);
    const seeks: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const t of this.o.topics) {
      for (const p of await this.admin.fetchTopicOffsets(t)) {
        const key = `${t}:${p.partition}`;
        const high = BigInt(p.high);
        if (high > 0n) this.targets.set(key, high);
        const from = this.o.startAt?.get(key);
        if (from !== undefined && from > 0n && from <= high) {
          seeks.push({ topic: t, partition: p.partition, offset: from.toString() });
          this.done.set(key, from);
        }
      }
    }
    const groupId = `${this.o.clientId}.tail.${randomUUID()}`;
    // checkpointed partitions start where the checkpoint says: committed for this fresh group
    // before it joins, so no fetch below them ever happens; the others have no commit and
    // start at offset 0 (fromBeginning)
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const s of seeks) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), { partition: s.partition, offset: s.offset }]);
    for (const [topic, partitions] of byTopic) await this.admin.setOffsets({ groupId, topic, partitions });
    this.consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.o.topics], fromBeginning: true });
    const skip = new Set(this.o.skipTypes ?? []);
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const type = message.headers?.[TYPE_HEADER]?.toString();
        if (type === undefined || !skip.has(type)) {
          try {
            this.o.onMessage(decodeFrom(topic as 'dsf.events', message.value) as TailMessage, topic);
          } catch (err) {
            // another consumer dead-letters bad records; the tail only ignores them
            this.o.log?.(`tail: ignored ${topic}[${partition}]@${message.offset}: ${(err as Error).message}`);
          }
        }
        this.done.set(`${topic}:${partition}`, BigInt(message.offset) + 1n);
        this.checkCaughtUp();
      },
    });
    this.checkCaughtUp();
  }

  /** Next offset to read per partition (`${topic}:${partition}`), for a checkpoint. */
  positions(): Map<string, bigint> {
    return new Map(this.done);
  }

  /**
   * Resolves once everything published to the tailed topics before this call has been read:
   * a command's decision then sees every event and state change that preceded the command.
   */
  async barrier(): Promise<void> {
    const targets = new Map<string, bigint>();
    for (const t of this.o.topics)
      for (const p of await this.admin!.fetchTopicOffsets(t)) if (BigInt(p.high) > 0n) targets.set(`${t}:${p.partition}`, BigInt(p.high));
    const reached = () => [...targets].every(([k, end]) => (this.done.get(k) ?? 0n) >= end);
    while (!reached()) {
      if (this.stopped) throw new Error('log tail stopped');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private checkCaughtUp(): void {
    for (const [k, end] of this.targets) if ((this.done.get(k) ?? 0n) < end) return;
    this.resolveCaughtUp();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}
