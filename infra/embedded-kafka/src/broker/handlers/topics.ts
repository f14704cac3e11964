import { ErrorCode } from '../../protocol/error-codes';
import { isValidTopicName } from '../../storage/log-store';
import { parseTopicConfig } from '../../storage/topic-config';
import type { BrokerContext } from '../context';

export const MAX_PARTITIONS = 10_000;

export interface TopicCreation {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

/** Validates and (unless validateOnly) creates a topic; shared by CreateTopics and auto-creation. */
export function createTopic(
  broker: BrokerContext,
  name: string,
  numPartitions: number,
  replicationFactor: number,
  configs: readonly { name: string; value: string | null }[],
  validateOnly: boolean,
): TopicCreation {
  if (!isValidTopicName(name)) {
    return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: `invalid topic name '${name}': 1-249 of [a-zA-Z0-9._-]` };
  }
  if (broker.logs.get(name)) return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `topic '${name}' already exists` };
  const partitions = numPartitions === -1 ? broker.defaultPartitions : numPartitions;
  if (partitions < 1 || partitions > MAX_PARTITIONS) {
    return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `partition count ${numPartitions} must be 1..${MAX_PARTITIONS}` };
  }
  if (replicationFactor !== -1 && replicationFactor !== 1) {
    return { errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, errorMessage: `replication factor ${replicationFactor} > 1 available broker` };
  }
  const parsed = parseTopicConfig(configs, broker.logs.defaults);
  if (!parsed.ok) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: parsed.message };
  if (!validateOnly) {
    broker.logs.create(name, partitions, parsed.config, parsed.raw);
    broker.log('info', `created topic ${name} with ${partitions} partition(s)`);
  }
  return { errorCode: ErrorCode.NONE, errorMessage: null };
}
