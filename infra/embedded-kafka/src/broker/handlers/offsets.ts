import type { ListOffsetsRequest, ListOffsetsResponse } from '../../protocol/apis/list-offsets';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../../protocol/apis/offset-commit';
import type { OffsetFetchRequest, OffsetFetchResponse } from '../../protocol/apis/offset-fetch';
import { ErrorCode } from '../../protocol/error-codes';
import type { Handler } from '../context';

const LATEST = -1;
const EARLIEST = -2;

/** ListOffsets: -1 = high watermark, -2 = log start, t >= 0 = first batch with max timestamp >= t. */
export const handleListOffsets: Handler<ListOffsetsRequest, ListOffsetsResponse> = (broker, req) => ({
  topics: req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => {
      const log = broker.logs.partition(t.name, p.index);
      if (!log) return { index: p.index, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 };
      if (p.timestamp === LATEST) return { index: p.index, errorCode: 0, timestamp: -1, offset: log.highWatermark };
      if (p.timestamp === EARLIEST) return { index: p.index, errorCode: 0, timestamp: -1, offset: log.logStartOffset };
      const found = log.offsetForTimestamp(p.timestamp);
      return { index: p.index, errorCode: 0, timestamp: found?.timestamp ?? -1, offset: found?.offset ?? -1 };
    }),
  })),
});

/** OffsetCommit: validated against the group's generation, journaled, fsynced per the policy. */
export const handleOffsetCommit: Handler<OffsetCommitRequest, OffsetCommitResponse> = async (broker, req) => {
  const groupError = broker.groups.validateCommit(req.groupId, req.memberId, req.generationId);
  const accepted: { topic: string; partition: number; offset: number; metadata: string | null }[] = [];
  const topics = req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => {
      if (groupError !== ErrorCode.NONE) return { index: p.index, errorCode: groupError };
      if (!broker.logs.partition(t.name, p.index)) return { index: p.index, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
      accepted.push({ topic: t.name, partition: p.index, offset: p.offset, metadata: p.metadata });
      return { index: p.index, errorCode: ErrorCode.NONE };
    }),
  }));
  if (accepted.length > 0) {
    try {
      broker.groups.commit(req.groupId, accepted);
      broker.flusher.markDirty(broker.groupStore);
      if (broker.fsync === 'always') await broker.flusher.flush();
    } catch (e) {
      broker.log('error', `offset commit for ${req.groupId} failed: ${(e as Error).message}`);
      return { topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ index: p.index, errorCode: ErrorCode.KAFKA_STORAGE_ERROR })) })) };
    }
  }
  return { topics };
};

/** OffsetFetch: stored offsets whatever the group state; -1 with no error where nothing is committed. */
export const handleOffsetFetch: Handler<OffsetFetchRequest, OffsetFetchResponse> = (broker, req) => {
  const committed = broker.groups.committed(req.groupId);
  const wanted =
    req.topics ??
    [...committed].map(([name, ps]) => ({ name, partitions: [...ps.keys()].sort((a, b) => a - b) }));
  return {
    errorCode: ErrorCode.NONE,
    topics: wanted.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((index) => {
        const c = committed.get(t.name)?.get(index);
        return { index, offset: c?.offset ?? -1, metadata: c?.metadata ?? '', errorCode: ErrorCode.NONE };
      }),
    })),
  };
};
