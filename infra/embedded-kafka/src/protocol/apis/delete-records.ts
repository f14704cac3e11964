import type { ApiCodec } from '../api';

/**
 * DeleteRecords (key 21): moves each partition's log start offset (kafkajs admin.deleteTopicRecords
 * sends v1; librdkafka rd_kafka_DeleteRecords v0-1). v2 is flexible and not implemented.
 * Request v0-v1: [topics => name STRING [partitions => partition_index INT32 offset INT64]] timeout_ms INT32
 *   offset -1 = the high watermark (delete everything).
 * Response v0-v1: throttle_time_ms INT32 [topics => name STRING [partitions => partition_index INT32 low_watermark INT64 error_code INT16]]
 *   (v1 only changes throttling behaviour, KIP-219.)
 */
export interface DeleteRecordsRequest {
  readonly topics: { readonly name: string; readonly partitions: { readonly index: number; readonly offset: number }[] }[];
  readonly timeoutMs: number;
}
export interface DeleteRecordsPartitionResult {
  readonly index: number;
  readonly lowWatermark: number;
  readonly errorCode: number;
}
export interface DeleteRecordsResponse {
  readonly topics: { readonly name: string; readonly partitions: DeleteRecordsPartitionResult[] }[];
}

export const deleteRecordsApi: ApiCodec<DeleteRecordsRequest, DeleteRecordsResponse> = {
  key: 21,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r) {
    const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => ({ index: r.int32(), offset: r.int64() }), 12) }), 6);
    return { topics, timeoutMs: r.int32() };
  },
  encodeResponse(w, _v, res) {
    w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.index).int64(p.lowWatermark).int16(p.errorCode));
    });
  },
};
