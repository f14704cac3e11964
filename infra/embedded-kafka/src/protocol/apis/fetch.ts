import type { ApiCodec } from '../api';

/**
 * Fetch (key 1)
 * Request v0-v2: replica_id INT32 max_wait_ms INT32 min_bytes INT32
 *                [topics => topic STRING [partitions => partition INT32 fetch_offset INT64 partition_max_bytes INT32]]
 * Request v3: + max_bytes INT32 after min_bytes
 * Request v4: + isolation_level INT8 after max_bytes
 * Request v5-v6: partitions + log_start_offset INT64 after fetch_offset
 * Request v7-v8: + session_id INT32 session_epoch INT32 after isolation_level; + [forgotten_topics => topic STRING [partitions INT32]] at end
 * Request v9-v10: partitions + current_leader_epoch INT32 after partition
 * Request v11: + rack_id STRING at end
 * Response v0: [responses => topic STRING [partitions => partition INT32 error_code INT16 high_watermark INT64 records BYTES]]
 * Response v1-v3: throttle_time_ms INT32 first
 * Response v4: partitions + last_stable_offset INT64 + [aborted_transactions => producer_id INT64 first_offset INT64] (nullable) before records
 * Response v5-v6: partitions + log_start_offset INT64 after last_stable_offset
 * Response v7-v10: + error_code INT16 session_id INT32 after throttle_time_ms
 * Response v11: partitions + preferred_read_replica INT32 after aborted_transactions
 */
export interface FetchPartitionRequest {
  readonly partition: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
}
export interface FetchTopicRequest {
  readonly topic: string;
  readonly partitions: FetchPartitionRequest[];
}
export interface FetchRequest {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly isolationLevel: number;
  readonly topics: FetchTopicRequest[];
}
export interface FetchPartitionResponse {
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** Whole stored batches, as read from the segment file. */
  readonly records: Buffer | null;
}
export interface FetchTopicResponse {
  readonly topic: string;
  readonly partitions: FetchPartitionResponse[];
}
export interface FetchResponse {
  readonly topics: FetchTopicResponse[];
}

export const fetchApi: ApiCodec<FetchRequest, FetchResponse> = {
  key: 1,
  name: 'Fetch',
  minVersion: 0,
  maxVersion: 11,
  decodeRequest(r, v) {
    r.int32(); // replica_id: consumers send -1; there are no followers here
    const maxWaitMs = r.int32();
    const minBytes = r.int32();
    const maxBytes = v >= 3 ? r.int32() : 0x7fffffff;
    const isolationLevel = v >= 4 ? r.int8() : 0;
    if (v >= 7) {
      r.int32(); // session_id: fetch sessions are not implemented; responses carry session 0 (full responses)
      r.int32(); // session_epoch
    }
    const topics = r.array(
      (r) => ({
        topic: r.string(),
        partitions: r.array((r) => {
          const partition = r.int32();
          if (v >= 9) r.int32(); // current_leader_epoch
          const fetchOffset = r.int64();
          if (v >= 5) r.int64(); // log_start_offset (followers only)
          const partitionMaxBytes = r.int32();
          return { partition, fetchOffset, partitionMaxBytes };
        }, 16),
      }),
      6,
    );
    if (v >= 7) r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32(), 4) }), 6);
    if (v >= 11) r.string(); // rack_id
    return { maxWaitMs, minBytes, maxBytes, isolationLevel, topics };
  },
  encodeResponse(w, v, res) {
    if (v >= 1) w.int32(0);
    if (v >= 7) w.int16(0).int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.topic);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark);
        if (v >= 4) {
          w.int64(p.highWatermark); // last_stable_offset: no transactions, so LSO = HW
          if (v >= 5) w.int64(p.logStartOffset);
          w.array([] as number[], () => undefined); // aborted_transactions
        }
        if (v >= 11) w.int32(-1); // preferred_read_replica: none, read from the leader
        w.nullableBytes(p.records);
      });
    });
  },
};
