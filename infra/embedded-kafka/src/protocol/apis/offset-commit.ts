import type { ApiCodec } from '../api';

/**
 * OffsetCommit (key 8)
 * Request v0: group_id STRING [topics => name STRING [partitions => index INT32 committed_offset INT64 metadata NULLABLE_STRING]]
 * Request v1: group_id generation_id INT32 member_id STRING [topics => name [partitions => index offset commit_timestamp INT64 metadata]]
 * Request v2-v4: group_id generation_id member_id retention_time_ms INT64 [topics => name [partitions => index offset metadata]]
 * Request v5: as v2 without retention_time_ms
 * Response v0-v2: [topics => name STRING [partitions => index INT32 error_code INT16]]
 * Response v3-v5: throttle_time_ms INT32 first
 */
export interface OffsetCommitPartition {
  readonly index: number;
  readonly offset: number;
  readonly metadata: string | null;
}
export interface OffsetCommitRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly topics: { readonly name: string; readonly partitions: OffsetCommitPartition[] }[];
}
export interface OffsetCommitResponse {
  readonly topics: { readonly name: string; readonly partitions: { readonly index: number; readonly errorCode: number }[] }[];
}

export const offsetCommitApi: ApiCodec<OffsetCommitRequest, OffsetCommitResponse> = {
  key: 8,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 5,
  decodeRequest(r, v) {
    const groupId = r.string();
    const generationId = v >= 1 ? r.int32() : -1;
    const memberId = v >= 1 ? r.string() : '';
    if (v >= 2 && v <= 4) r.int64();
    const topics = r.array(
      (r) => ({
        name: r.string(),
        partitions: r.array((r) => {
          const index = r.int32();
          const offset = r.int64();
          if (v === 1) r.int64();
          const metadata = r.nullableString();
          return { index, offset, metadata };
        }, 14),
      }),
      6,
    );
    return { groupId, generationId, memberId, topics };
  },
  encodeResponse(w, v, res) {
    if (v >= 3) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.index).int16(p.errorCode));
    });
  },
};
