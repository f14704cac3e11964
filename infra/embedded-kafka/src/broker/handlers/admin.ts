import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../../protocol/apis/create-partitions';
import type { CreateTopicsRequest, CreateTopicsResponse } from '../../protocol/apis/create-topics';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../../protocol/apis/delete-records';
import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../../protocol/apis/delete-topics';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/apis/init-producer-id';
import { ErrorCode } from '../../protocol/error-codes';
import type { Handler } from '../context';
import { MAX_PARTITIONS, createTopic } from './topics';

/** CreateTopics: each topic validated on its own; problems come back as code + message. */
export const handleCreateTopics: Handler<CreateTopicsRequest, CreateTopicsResponse> = (broker, req) => ({
  topics: req.topics.map((t) => {
    if (t.assignments.length > 0) {
      return { name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'manual replica assignments are not supported by the embedded broker' };
    }
    const r = createTopic(broker, t.name, t.numPartitions, t.replicationFactor, t.configs, req.validateOnly);
    return { name: t.name, ...r };
  }),
});

/** DeleteTopics: removes the topic's files and the committed offsets that refer to it. */
export const handleDeleteTopics: Handler<DeleteTopicsRequest, DeleteTopicsResponse> = (broker, req) => ({
  topics: req.topicNames.map((name) => {
    if (!broker.logs.delete(name)) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    broker.groupStore.append([{ t: 'delete-topic', topic: name }]);
    broker.log('info', `deleted topic ${name}`);
    return { name, errorCode: ErrorCode.NONE };
  }),
});

/** CreatePartitions: grows a topic; shrinking or keeping the count is INVALID_PARTITIONS. */
export const handleCreatePartitions: Handler<CreatePartitionsRequest, CreatePartitionsResponse> = (broker, req) => ({
  results: req.topics.map((t) => {
    const topic = broker.logs.get(t.name);
    if (!topic) return { name: t.name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${t.name}' does not exist` };
    const current = topic.partitions.length;
    if (t.count <= current || t.count > MAX_PARTITIONS) {
      return { name: t.name, errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `topic has ${current} partitions; new count ${t.count} must be in ${current + 1}..${MAX_PARTITIONS}` };
    }
    if (!req.validateOnly) broker.logs.addPartitions(t.name, t.count);
    return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
  }),
});

/** InitProducerId: idempotent producers only; transactional ids are refused. */
export const handleInitProducerId: Handler<InitProducerIdRequest, InitProducerIdResponse> = (broker, req) => {
  if (req.transactionalId !== null) {
    return { errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
  }
  return { errorCode: ErrorCode.NONE, producerId: broker.nextProducerId(), producerEpoch: 0 };
};

/**
 * DeleteRecords: moves each partition's log start offset (durably) and frees the segments below
 * it. An offset past the high watermark (or below -1) is OFFSET_OUT_OF_RANGE and changes
 * nothing; one at or below the current start changes nothing and reports the start, as in Kafka.
 */
export const handleDeleteRecords: Handler<DeleteRecordsRequest, DeleteRecordsResponse> = (broker, req) => ({
  topics: req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => {
      const log = broker.logs.partition(t.name, p.index);
      if (!log) return { index: p.index, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
      try {
        const r = log.deleteRecordsBefore(p.offset);
        if (r.kind === 'out_of_range') return { index: p.index, lowWatermark: -1, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
        broker.log('info', `delete records ${t.name}-${p.index}: log start offset now ${r.logStartOffset}`);
        return { index: p.index, lowWatermark: r.logStartOffset, errorCode: ErrorCode.NONE };
      } catch (e) {
        broker.log('error', `delete records ${t.name}-${p.index}: ${(e as Error).message}`);
        return { index: p.index, lowWatermark: -1, errorCode: ErrorCode.KAFKA_STORAGE_ERROR };
      }
    }),
  })),
});
