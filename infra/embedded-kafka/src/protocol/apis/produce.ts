import type { ApiCodec } from '../api';

/**
 * Produce (key 0)
 * Request v0-v2: acks INT16 timeout_ms INT32 [topics => name STRING [partitions => index INT32 records BYTES]]
 * Request v3-v7: transactional_id NULLABLE_STRING first, then as v0
 * Response v0: [responses => name STRING [partitions => index INT32 error_code INT16 base_offset INT64]]
 * Response v1: v0 + throttle_time_ms INT32 (last)
 * Response v2-v4: partitions + log_append_time_ms INT64
 * Response v5-v7: partitions + log_start_offset INT64
 */
export interface ProducePartitionData {
  readonly index: number;
  readonly records: Buffer | null;
}
export interface ProduceTopicData {
  readonly name: string;
  readonly partitions: ProducePartitionData[];
}
export interface ProduceRequest {
  readonly transactionalId: string | null;
  readonly acks: number;
  readonly timeoutMs: number;
  readonly topics: ProduceTopicData[];
}
export interface ProducePartitionResponse {
  readonly index: number;
  readonly errorCode: number;
  readonly baseOffset: number;
  readonly logStartOffset: number;
}
export interface ProduceTopicResponse {
  readonly name: string;
  readonly partitions: ProducePartitionResponse[];
}
export interface ProduceResponse {
  readonly topics: ProduceTopicResponse[];
}

export const produceApi: ApiCodec<ProduceRequest, ProduceResponse> = {
  key: 0,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 7,
  decodeRequest(r, v) {
    const transactionalId = v >= 3 ? r.nullableString() : null;
    const acks = r.int16();
    const timeoutMs = r.int32();
    const topics = r.array(
      (r) => ({
        name: r.string(),
        partitions: r.array((r) => ({ index: r.int32(), records: r.nullableBytes() }), 8),
      }),
      6,
    );
    return { transactionalId, acks, timeoutMs, topics };
  },
  encodeResponse(w, v, res) {
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.index).int16(p.errorCode).int64(p.baseOffset);
        if (v >= 2) w.int64(-1);
        if (v >= 5) w.int64(p.logStartOffset);
      });
    });
    if (v >= 1) w.int32(0);
  },
};
