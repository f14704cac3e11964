import type { ApiCodec } from '../api';

/**
 * OffsetFetch (key 9)
 * Request v0-v1: group_id STRING [topics => name STRING [partition_indexes INT32]]
 * Request v2-v4: topics nullable (null = every topic with a committed offset)
 * Response v0-v1: [topics => name STRING [partitions => index INT32 committed_offset INT64 metadata NULLABLE_STRING error_code INT16]]
 * Response v2: v1 + error_code INT16 (last)
 * Response v3-v4: throttle_time_ms INT32 first
 */
export interface OffsetFetchRequest {
  readonly groupId: string;
  readonly topics: { readonly name: string; readonly partitions: number[] }[] | null;
}
export interface OffsetFetchPartition {
  readonly index: number;
  readonly offset: number;
  readonly metadata: string | null;
  readonly errorCode: number;
}
export interface OffsetFetchResponse {
  readonly errorCode: number;
  readonly topics: { readonly name: string; readonly partitions: OffsetFetchPartition[] }[];
}

export const offsetFetchApi: ApiCodec<OffsetFetchRequest, OffsetFetchResponse> = {
  key: 9,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 4,
  decodeRequest(r) {
    const groupId = r.string();
    const topics = r.nullableArray((r) => ({ name: r.string(), partitions: r.array((r) => r.int32(), 4) }), 6);
    return { groupId, topics };
  },
  encodeResponse(w, v, res) {
    if (v >= 3) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.index).int64(p.offset).nullableString(p.metadata).int16(p.errorCode));
    });
    if (v >= 2) w.int16(res.errorCode);
  },
};
