/**
 * `<topic>.dlq`: what a consumer could not accept, with the reason. Published on the
 * dead-letter topic of `sourceTopic`, keyed by the original key, so a DLQ keeps the
 * per-key order of its source. The original value travels unchanged as raw bytes
 * (absent for a tombstone); offsets are Kafka int64 as decimal strings.
 */
import { errorCode, id, text, timestamp } from '../common';
import { defineMessage } from '../define';
import { bytes, decimal, enumOf, int, optional, string } from '../schema';
import { ALL_TOPICS } from '../topics';

export const MAX_DEAD_VALUE = 16 * 1024 * 1024;

export const DeadLetter = defineMessage({
  type: 'DeadLetter',
  version: 1,
  topic: 'dlq',
  fields: {
    sourceTopic: enumOf(ALL_TOPICS as unknown as [string, ...string[]]),
    partition: int({ min: 0, max: 2 ** 31 - 1 }),
    offset: decimal(),
    consumerGroup: id(),
    reason: text(),
    errorCode: errorCode(),
    field: optional(string({ minLength: 1, maxLength: 256 })),
    originalKey: optional(string({ minLength: 0, maxLength: 4096 })),
    originalValue: optional(bytes({ maxLength: MAX_DEAD_VALUE })),
    occurredAt: timestamp(),
  },
});
