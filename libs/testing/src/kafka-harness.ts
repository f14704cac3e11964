/**
 * Test helpers over a real broker: publish Deltaflow messages, collect what appears on a
 * topic, and wait for a message matching a predicate. Used by integration and e2e tests.
 */
import { randomUUID } from 'node:crypto';
import { decodeFrom, encodeMessage, type AnyMessage, type DlqTopicName, type TopicName } from '@deltaflow/contracts';
import { Consumer, Kafka, logLevel, Producer } from 'kafkajs';

export class TopicCollector<M = AnyMessage> {
  readonly messages: M[] = [];
  private waiters: Array<{ pred: (m: M) => boolean; resolve: (m: M) => void }> = [];
  private consumer?: Consumer;

  constructor(
    private readonly brokers: string[],
    readonly topic: TopicName | DlqTopicName,
    private readonly skipTypes: readonly string[] = [],
  ) {}

  async start(): Promise<this> {
    const kafka = new Kafka({ clientId: 'test-collector', brokers: this.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    if (!(await admin.listTopics()).includes(this.topic)) await admin.createTopics({ topics: [{ topic: this.topic }], waitForLeaders: true }).catch(() => false);
    await admin.disconnect();
    this.consumer = kafka.consumer({ groupId: `test-${randomUUID()}` });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        const type = message.headers?.['df-type']?.toString();
        if (type !== undefined && this.skipTypes.includes(type)) return;
        const m = decodeFrom(this.topic as 'dsf.events', message.value) as unknown as M;
        this.messages.push(m);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(m)) return true;
          w.resolve(m);
          return false;
        });
      },
    });
    return this;
  }

  /** The first message (already seen or future) matching `pred`; rejects after `ms`. */
  waitFor<T extends M = M>(pred: (m: M) => boolean, ms = 60_000, what = 'message'): Promise<T> {
    const seen = this.messages.find(pred);
    if (seen !== undefined) return Promise.resolve(seen as T);
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what} on ${this.topic}; saw ${this.messages.length} messages`)), ms);
      this.waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m as T)) });
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

export class Publisher {
  private producer?: Producer;
  constructor(private readonly brokers: string[]) {}
  async start(): Promise<this> {
    const kafka = new Kafka({ clientId: 'test-publisher', brokers: this.brokers, logLevel: logLevel.NOTHING });
    this.producer = kafka.producer({ allowAutoTopicCreation: true });
    await this.producer.connect();
    return this;
  }
  async publish(...ms: AnyMessage[]): Promise<void> {
    for (const m of ms) {
      const r = encodeMessage(m);
      await this.producer!.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: { ...r.headers } }] });
    }
  }
  async stop(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
  }
}
