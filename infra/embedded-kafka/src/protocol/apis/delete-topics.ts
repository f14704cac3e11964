import type { ApiCodec } from '../api';

/**
 * DeleteTopics (key 20)
 * Request v0-v1: [topic_names STRING] timeout_ms INT32
 * Response v0: [responses => name STRING error_code INT16]
 * Response v1: throttle_time_ms INT32 first
 */
export interface DeleteTopicsRequest {
  readonly topicNames: string[];
  readonly timeoutMs: number;
}
export interface DeleteTopicsResponse {
  readonly topics: { readonly name: string; readonly errorCode: number }[];
}

export const deleteTopicsApi: ApiCodec<DeleteTopicsRequest, DeleteTopicsResponse> = {
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r) {
    return { topicNames: r.array((r) => r.string(), 2), timeoutMs: r.int32() };
  },
  encodeResponse(w, v, res) {
    if (v >= 1) w.int32(0);
    w.array(res.topics, (w, t) => w.string(t.name).int16(t.errorCode));
  },
};
