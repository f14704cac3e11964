import type { FetchPartitionResponse, FetchRequest, FetchResponse } from '../../protocol/apis/fetch';
import { ErrorCode } from '../../protocol/error-codes';
import type { PartitionLog } from '../../storage/partition-log';
import type { BrokerContext, Handler, RequestContext } from '../context';

/**
 * Fetch with long-poll: answers as soon as min_bytes are available across the requested
 * partitions (or any partition has an error), otherwise when max_wait_ms ends. Records are
 * whole stored batches read as one byte range per partition (no per-record work). The first
 * batch is always returned whole even if it exceeds the limits (KIP-74).
 */
export const handleFetch: Handler<FetchRequest, FetchResponse> = async (broker, req, ctx) => {
  const deadline = broker.now() + Math.max(0, req.maxWaitMs);
  for (;;) {
    const { available, error, logs } = survey(broker, req);
    const remaining = deadline - broker.now();
    if (error || available >= Math.max(1, req.minBytes) || remaining <= 0 || ctx.signal.aborted) {
      return build(broker, req, available > 0);
    }
    await waitForAppend(logs, remaining, ctx);
  }
};

function survey(broker: BrokerContext, req: FetchRequest): { available: number; error: boolean; logs: PartitionLog[] } {
  let available = 0;
  let error = false;
  const logs: PartitionLog[] = [];
  for (const t of req.topics) {
    for (const p of t.partitions) {
      const log = broker.logs.partition(t.topic, p.partition);
      if (!log) {
        error = true;
        continue;
      }
      logs.push(log);
      if (p.fetchOffset < log.logStartOffset || p.fetchOffset > log.highWatermark) error = true;
      else available += Math.min(log.bytesAvailable(p.fetchOffset), p.partitionMaxBytes);
    }
  }
  return { available, error, logs };
}

function build(broker: BrokerContext, req: FetchRequest, hasData: boolean): FetchResponse {
  let budget = req.maxBytes;
  let first = true;
  return {
    topics: req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p): FetchPartitionResponse => {
        const log = broker.logs.partition(t.topic, p.partition);
        if (!log) return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, highWatermark: -1, logStartOffset: -1, records: null };
        const hw = log.highWatermark;
        const base = { partition: p.partition, highWatermark: hw, logStartOffset: log.logStartOffset };
        if (p.fetchOffset < log.logStartOffset || p.fetchOffset > hw) {
          return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, records: null };
        }
        if (!hasData || p.fetchOffset === hw || (budget <= 0 && !first)) return { ...base, errorCode: ErrorCode.NONE, records: Buffer.alloc(0) };
        const limit = first ? Math.max(1, Math.min(p.partitionMaxBytes, budget)) : Math.min(p.partitionMaxBytes, budget);
        const records = log.read(p.fetchOffset, limit);
        if (records && records.length > 0) {
          first = false;
          budget -= records.length;
        }
        return { ...base, errorCode: ErrorCode.NONE, records: records ?? Buffer.alloc(0) };
      }),
    })),
  };
}

function waitForAppend(logs: PartitionLog[], ms: number, ctx: RequestContext): Promise<void> {
  return new Promise((resolve) => {
    const offs: (() => void)[] = [];
    const done = () => {
      clearTimeout(timer);
      for (const off of offs) off();
      ctx.signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const log of logs) offs.push(log.onAppend(done));
    ctx.signal.addEventListener('abort', done);
  });
}
