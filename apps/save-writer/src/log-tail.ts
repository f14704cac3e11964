/**
 * Reads topics from offset 0 with a private consumer group (nothing committed matters: each
 * start re-reads), so the save writer knows, before it decides anything, what the log says:
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
    for (const t of this.o.topics) {
      for (const p of await this.admin.fetchTopicOffsets(t)) {
        if (BigInt(p.high) > 0n) this.targets.set(`${t}:${p.partition}`, BigInt(p.high));
      }
    }
    this.consumer = kafka.consumer({ groupId: `${this.o.clientId}.tail.${randomUUID()}`, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
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
