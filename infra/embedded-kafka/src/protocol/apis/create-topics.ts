import type { ApiCodec } from '../api';

/**
 * CreateTopics (key 19)
 * Request v0: [topics => name STRING num_partitions INT32 replication_factor INT16
 *              [assignments => partition_index INT32 [broker_ids INT32]] [configs => name STRING value NULLABLE_STRING]]
 *             timeout_ms INT32
 * Request v1-v3: + validate_only BOOLEAN
 * Response v0: [topics => name STRING error_code INT16]
 * Response v1: topics + error_message NULLABLE_STRING
 * Response v2-v3: throttle_time_ms INT32 first
 */
export interface CreatableTopic {
  readonly name: string;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly assignments: { readonly partitionIndex: number; readonly brokerIds: number[] }[];
  readonly configs: { readonly name: string; readonly value: string | null }[];
}
export interface CreateTopicsRequest {
  readonly topics: CreatableTopic[];
  readonly timeoutMs: number;
  readonly validateOnly: boolean;
}
export interface CreateTopicsResponse {
  readonly topics: { readonly name: string; readonly errorCode: number; readonly errorMessage: string | null }[];
}

export const createTopicsApi: ApiCodec<CreateTopicsRequest, CreateTopicsResponse> = {
  key: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 3,
  decodeRequest(r, v) {
    const topics = r.array(
      (r) => ({
        name: r.string(),
        numPartitions: r.int32(),
        replicationFactor: r.int16(),
        assignments: r.array((r) => ({ partitionIndex: r.int32(), brokerIds: r.array((r) => r.int32(), 4) }), 8),
        configs: r.array((r) => ({ name: r.string(), value: r.nullableString() }), 4),
      }),
      16,
    );
    const timeoutMs = r.int32();
    const validateOnly = v >= 1 ? r.bool() : false;
    return { topics, timeoutMs, validateOnly };
  },
  encodeResponse(w, v, res) {
    if (v >= 2) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name).int16(t.errorCode);
      if (v >= 1) w.nullableString(t.errorMessage);
    });
  },
};
