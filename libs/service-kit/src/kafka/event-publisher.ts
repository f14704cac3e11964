/**
 * Publishes encoded events with acks=-1: a service reports an outcome only once Kafka has
 * durably accepted it. Messages for one topic are sent in one request, in order.
 */
import type { Producer } from 'kafkajs';
import { createKafka, type KafkaSecurity } from './kafka-client';

export interface EncodedRecord {
  topic: string;
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
}

export class EventPublisher<M = unknown> {
  private producer?: Producer;

  constructor(
    private readonly brokers: readonly string[],
    private readonly clientId: string,
    private readonly encode: (message: M) => EncodedRecord,
    private readonly security?: KafkaSecurity,
  ) {}

  async connect(): Promise<void> {
    if (this.producer) return;
    const kafka = createKafka({ clientId: this.clientId, brokers: this.brokers, security: this.security });
    this.producer = kafka.producer({ allowAutoTopicCreation: true });
    await this.producer.connect();
  }

  /** Encodes and publishes; resolves once every record is acknowledged by all in-sync replicas. */
  async publish(...messages: M[]): Promise<void> {
    if (messages.length === 0) return;
    await this.publishEncoded(messages.map((m) => this.encode(m)));
  }

  async publishEncoded(records: EncodedRecord[]): Promise<void> {
    if (!this.producer) await this.connect();
    const byTopic = new Map<string, EncodedRecord[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic) ?? [];
      list.push(r);
      byTopic.set(r.topic, list);
    }
    await this.producer!.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, rs]) => ({
        topic,
        messages: rs.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
      })),
    });
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}
