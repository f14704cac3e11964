import type { ProducePartitionResponse, ProduceRequest, ProduceResponse } from '../../protocol/apis/produce';
import { ErrorCode } from '../../protocol/error-codes';
import { checkBatch, type BatchHeader } from '../../protocol/record-batch';
import type { PartitionLog } from '../../storage/partition-log';
import { NO_RESPONSE, type Handler } from '../context';

const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;

/**
 * Produce: every batch of a partition is validated (lengths, magic 2, CRC-32C, record count,
 * size) before any is stored, so a corrupt request stores nothing. Batches are appended as
 * received with broker-assigned offsets. acks=-1 waits for fsync under fsync=always
 * (group-committed with concurrent produces); acks=0 gets no response at all.
 */
export const handleProduce: Handler<ProduceRequest, ProduceResponse> = async (broker, req) => {
  if (req.acks !== 0 && req.acks !== 1 && req.acks !== -1) {
    return fillAll(req, ErrorCode.INVALID_REQUIRED_ACKS);
  }
  if (req.transactionalId !== null) return fillAll(req, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  const touched: PartitionLog[] = [];
  const now = broker.now();
  const topics = req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p): ProducePartitionResponse => {
      const log = broker.logs.partition(t.name, p.index);
      const fail = (errorCode: number): ProducePartitionResponse => ({ index: p.index, errorCode, baseOffset: -1, logStartOffset: -1 });
      if (!log) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const records = p.records;
      if (!records || records.length === 0) return fail(ErrorCode.CORRUPT_MESSAGE);
      const maxBytes = broker.logs.get(t.name)!.config.maxMessageBytes;
      const headers: BatchHeader[] = [];
      for (let pos = 0; pos < records.length; ) {
        // The size limit first, from the batch length alone: an oversize batch costs no CRC pass.
        const claimed = records.length - pos >= 12 ? records.readInt32BE(pos + 8) + 12 : 0;
        if (claimed > maxBytes) {
          broker.log('warn', `produce ${t.name}-${p.index}: batch of ${claimed} bytes over max.message.bytes ${maxBytes}`);
          return fail(ErrorCode.MESSAGE_TOO_LARGE);
        }
        const c = checkBatch(records, pos, records.length, true);
        if (!c.ok) {
          broker.log('warn', `produce ${t.name}-${p.index}: rejected batch at ${pos}: ${c.problem} ${c.detail}`);
          return fail(c.problem === 'BAD_MAGIC' ? ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT : ErrorCode.CORRUPT_MESSAGE);
        }
        const h = c.header;
        if (h.recordsCount !== h.lastOffsetDelta + 1 || (h.attributes & (TRANSACTIONAL_BIT | CONTROL_BIT)) !== 0) {
          broker.log('warn', `produce ${t.name}-${p.index}: rejected batch: count ${h.recordsCount}, delta ${h.lastOffsetDelta}, attributes ${h.attributes}`);
          return fail(ErrorCode.CORRUPT_MESSAGE);
        }
        headers.push(h);
        pos += h.size;
      }
      let first = -1;
      try {
        for (const h of headers) {
          const r = log.append(records, h, now);
          switch (r.kind) {
            case 'appended':
            case 'duplicate':
              if (first < 0) first = r.baseOffset;
              break;
            case 'out_of_order':
              broker.log('warn', `produce ${t.name}-${p.index}: ${r.detail}`);
              return fail(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
            case 'fenced':
              return fail(ErrorCode.INVALID_PRODUCER_EPOCH);
            default: {
              const never: never = r;
              return never;
            }
          }
        }
      } catch (e) {
        broker.log('error', `produce ${t.name}-${p.index}: storage failure ${(e as Error).message}`);
        return fail(ErrorCode.KAFKA_STORAGE_ERROR);
      }
      touched.push(log);
      return { index: p.index, errorCode: ErrorCode.NONE, baseOffset: first, logStartOffset: log.logStartOffset };
    }),
  }));
  for (const log of touched) {
    broker.flusher.markDirty(log.activeSegment);
    log.notify();
  }
  if (req.acks === 0) return NO_RESPONSE;
  if (req.acks === -1 && broker.fsync === 'always' && touched.length > 0) {
    try {
      await broker.flusher.flush();
    } catch (e) {
      broker.log('error', `fsync failed: ${(e as Error).message}`);
      return { topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p, errorCode: p.errorCode || ErrorCode.KAFKA_STORAGE_ERROR })) })) };
    }
  }
  return { topics };
};

function fillAll(req: ProduceRequest, errorCode: number): ProduceResponse {
  return {
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ index: p.index, errorCode, baseOffset: -1, logStartOffset: -1 })),
    })),
  };
}

