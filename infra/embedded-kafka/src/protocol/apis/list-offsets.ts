import type { ApiCodec } from '../api';

/**
 * ListOffsets (key 2)
 * Request v0: replica_id INT32 [topics => name STRING [partitions => index INT32 timestamp INT64 max_num_offsets INT32]]
 * Request v1: partitions without max_num_offsets
 * Request v2-v3: + isolation_level INT8 after replica_id
 * Response v0: [topics => name STRING [partitions => index INT32 error_code INT16 [old_style_offsets INT64]]]
 * Response v1: partitions => index INT32 error_code INT16 timestamp INT64 offset INT64
 * Response v2-v3: throttle_time_ms INT32 first
 * Timestamps: -1 = latest (high watermark), -2 = earliest (log start).
 */
export interface ListOffsetsPartitionRequest {
  readonly index: number;
  readonly timestamp: number;
}
export interface ListOffsetsRequest {
  readonly topics: { readonly name: string; readonly partitions: ListOffsetsPartitionRequest[] }[];
}
export interface ListOffsetsPartitionResponse {
  readonly index: number;
  readonly errorCode: number;
  readonly timestamp: number;
  readonly offset: number;
}
export interface ListOffsetsResponse {
  readonly topics: { readonly name: string; readonly partitions: ListOffsetsPartitionResponse[] }[];
}

export const listOffsetsApi: ApiCodec<ListOffsetsRequest, ListOffsetsResponse> = {
  key: 2,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 3,
  decodeRequest(r, v) {
    r.int32();
    if (v >= 2) r.int8();
    const topics = r.array(
      (r) => ({
        name: r.string(),
        partitions: r.array((r) => {
          const index = r.int32();
          const timestamp = r.int64();
          if (v === 0) r.int32();
          return { index, timestamp };
        }, 12),
      }),
      6,
    );
    return { topics };
  },
  encodeResponse(w, v, res) {
    if (v >= 2) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.index).int16(p.errorCode);
        if (v === 0) {
          w.array(p.offset >= 0 ? [p.offset] : [], (w, o) => w.int64(o));
        } else {
          w.int64(p.timestamp).int64(p.offset);
        }
      });
    });
  },
};
