/**
 * The codec every Deltaflow service gives its Kafka transport: records are decoded with the
 * contracts (a bad record raises a ContractError naming the field), and a rejected record
 * goes to `<topic>.dlq` as a DeadLetter carrying the original bytes, the reason and code.
 */
import { decodeFrom, encodeMessage, type TopicName } from '@deltaflow/contracts';
import type { DeadLetterInput, KafkaEventServerOptions } from './kafka-event-server';

export function contractCodec(groupId: string, now: () => number = Date.now): Pick<KafkaEventServerOptions, 'decode' | 'encodeDeadLetter'> {
  return {
    decode: (topic, message) => decodeFrom(topic as TopicName, message.value),
    encodeDeadLetter: (d: DeadLetterInput) => {
      const r = encodeMessage({
        type: 'DeadLetter',
        sourceTopic: d.sourceTopic as TopicName,
        partition: d.partition,
        offset: d.offset,
        consumerGroup: groupId,
        reason: d.error.message.slice(0, 4000) || d.error.code,
        errorCode: /^[A-Z][A-Z0-9_]*$/.test(d.error.code) ? d.error.code.slice(0, 64) : 'VALIDATION',
        ...(d.error.field ? { field: d.error.field } : {}),
        ...(d.key ? { originalKey: d.key.toString() } : {}),
        ...(d.value ? { originalValue: d.value } : {}),
        occurredAt: now(),
      });
      return { topic: r.topic, key: r.key, value: r.value, headers: { ...r.headers } };
    },
  };
}
