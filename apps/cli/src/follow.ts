/**
 * Sending a command on dsf.commands and following its outcome on dsf.events by correlation id:
 * the one way every `dsf` command that sends talks to the services.
 *
 * dsf.events is read from its end as it was before the command is sent (a TopicReader from
 * 'latest', started first), so the outcome cannot be missed and nothing older is read.
 */
import { encodeMessage, Topic } from '@deltaflow/contracts';
import { createKafka, TopicReader, type KafkaConnection } from '@deltaflow/service-kit';
import type { Producer } from 'kafkajs';
import type { DsfCommand, DsfEvent } from './outcome';

export interface FollowOptions {
  /** true for the event that ends the command */
  readonly isFinal: (e: DsfEvent) => boolean;
  /** every other event of the command (progress) */
  readonly onEvent?: (e: DsfEvent) => void;
  /** ms since the epoch after which no outcome means none came */
  readonly deadline: number;
}

interface Waiter {
  readonly o: FollowOptions;
  readonly resolve: (e: DsfEvent | undefined) => void;
}

export class CommandChannel {
  private readonly waiters = new Map<string, Waiter>();
  private reader?: TopicReader<DsfEvent>;

  private constructor(private readonly producer: Producer) {}

  /** Connects a producer and, when outcomes are to be followed, a reader of dsf.events from its end. */
  static async open(conn: KafkaConnection, o: { follow: boolean }): Promise<CommandChannel> {
    const security = { ...(conn.ssl ? { ssl: conn.ssl } : {}), ...(conn.sasl ? { sasl: conn.sasl } : {}) };
    const producer = createKafka({ clientId: 'dsf-cli', brokers: conn.brokers, security, retries: 3, quiet: true }).producer({ allowAutoTopicCreation: true });
    const channel = new CommandChannel(producer);
    try {
      await producer.connect();
      if (o.follow) {
        channel.reader = new TopicReader<DsfEvent>({
          brokers: conn.brokers,
          security,
          clientId: 'dsf-cli',
          topics: [Topic.dsfEvents],
          from: 'latest',
          onMessage: (e) => channel.dispatch(e),
          onUndecodable: () => undefined,
        });
        await channel.reader.start();
      }
    } catch (e) {
      await channel.close();
      throw new Error(`cannot reach Kafka at ${conn.brokers.join(',')}: ${(e as Error).message}`);
    }
    return channel;
  }

  private dispatch(e: DsfEvent): void {
    if (!('correlationId' in e) || e.correlationId === undefined) return;
    const w = this.waiters.get(e.correlationId);
    if (!w) return;
    if (w.o.isFinal(e)) {
      this.waiters.delete(e.correlationId);
      w.resolve(e);
    } else w.o.onEvent?.(e);
  }

  /** Publishes the command (acks from every in-sync replica). */
  async send(message: DsfCommand): Promise<void> {
    const r = encodeMessage(message);
    await this.producer.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: { ...r.headers } }] });
  }

  /** Sends the command and resolves with the event that ends it, or undefined at the deadline. */
  async request(message: DsfCommand, o: FollowOptions): Promise<DsfEvent | undefined> {
    if (!this.reader) throw new Error('this channel does not follow outcomes');
    let timer: NodeJS.Timeout | undefined;
    const outcome = new Promise<DsfEvent | undefined>((resolve) => {
      this.waiters.set(message.correlationId, { o, resolve });
      timer = setTimeout(() => {
        this.waiters.delete(message.correlationId);
        resolve(undefined);
      }, Math.max(0, o.deadline - Date.now()));
    });
    try {
      await this.send(message);
      return await outcome;
    } finally {
      clearTimeout(timer);
      this.waiters.delete(message.correlationId);
    }
  }

  async close(): Promise<void> {
    await this.reader?.stop().catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
  }
}

