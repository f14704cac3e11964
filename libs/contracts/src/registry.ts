/** The registry of every Deltaflow message: the single decode entry point. */
import { createRegistry, type MessageOf } from './define';
import type { DlqTopicName, TopicName } from './topics';
import { BLOCK_CHANGES_MESSAGES } from './messages/block-changes';
import { DeadLetter } from './messages/dead-letter';
import { DLOG_MESSAGES } from './messages/dlog';
import { DSF_COMMAND_MESSAGES } from './messages/dsf-commands';
import { DSF_EVENT_MESSAGES } from './messages/dsf-events';
import { SCHEDULE_COMMAND_MESSAGES, SCHEDULE_EVENT_MESSAGES } from './messages/schedule';
import { RETENTION_COMMAND_MESSAGES, RETENTION_EVENT_MESSAGES } from './messages/retention';
import { NUCLEUS_COMMAND_MESSAGES } from './messages/nucleus-commands';
import { NUCLEUS_STATE_MESSAGES } from './messages/nucleus-state';
import { PLOG_MESSAGES } from './messages/plog';
import { SOV_COMMAND_MESSAGES, SOV_EVENT_MESSAGES, SOV_SUPERBLOCK_MESSAGES } from './messages/sov';

export const ALL_MESSAGES = [
  ...BLOCK_CHANGES_MESSAGES,
  ...DLOG_MESSAGES,
  ...PLOG_MESSAGES,
  ...NUCLEUS_STATE_MESSAGES,
  ...DSF_COMMAND_MESSAGES,
  ...DSF_EVENT_MESSAGES,
  ...SCHEDULE_COMMAND_MESSAGES,
  ...SCHEDULE_EVENT_MESSAGES,
  ...RETENTION_COMMAND_MESSAGES,
  ...RETENTION_EVENT_MESSAGES,
  ...NUCLEUS_COMMAND_MESSAGES,
  ...SOV_SUPERBLOCK_MESSAGES,
  ...SOV_COMMAND_MESSAGES,
  ...SOV_EVENT_MESSAGES,
  DeadLetter,
] as const;

export const registry = createRegistry(ALL_MESSAGES);

export type AnyMessage = MessageOf<(typeof ALL_MESSAGES)[number]>;
export type MessageType = AnyMessage['type'];
/** The messages a topic carries, e.g. `TopicMessage<'dsf.block-changes'>`. */
export type TopicMessage<R extends string> = MessageOf<Extract<(typeof ALL_MESSAGES)[number], { route: R }>>;
/** A message of one type, e.g. `MessageOfType<'BlockChanged'>`. */
export type MessageOfType<T extends MessageType> = Extract<AnyMessage, { type: T }>;

/** Decodes any Deltaflow message value (the envelope); throws ContractError. */
export function decodeMessage(value: Uint8Array | null | undefined): AnyMessage {
  return registry.decode(value);
}

/** Decodes a value read from `topic` (a `.dlq` topic yields DeadLetter); other topics' types are UNKNOWN_TYPE. */
export function decodeFrom<R extends TopicName | DlqTopicName>(
  topic: R,
  value: Uint8Array | null | undefined,
): TopicMessage<R extends DlqTopicName ? 'dlq' : R> {
  return registry.decodeFrom(topic as never, value) as TopicMessage<R extends DlqTopicName ? 'dlq' : R>;
}

/** Encodes any Deltaflow message into a Kafka record (topic, key, value, headers). */
export function encodeMessage(message: AnyMessage) {
  return registry.encode(message);
}
