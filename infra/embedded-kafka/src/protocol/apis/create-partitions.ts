import type { ApiCodec } from '../api';

/**
 * CreatePartitions (key 37)
 * Request v0-v1: [topics => name STRING count INT32 [assignments => [broker_ids INT32]] (nullable)] timeout_ms INT32 validate_only BOOLEAN
 * Response v0-v1: throttle_time_ms INT32 [results => name STRING error_code INT16 error_message NULLABLE_STRING]
 */
export interface CreatePartitionsRequest {
  readonly topics: { readonly name: string; readonly count: number }[];
  readonly timeoutMs: number;
  readonly validateOnly: boolean;
}
export interface CreatePartitionsResponse {
  readonly results: { readonly name: string; readonly errorCode: number; readonly errorMessage: string | null }[];
}

export const createPartitionsApi: ApiCodec<CreatePartitionsRequest, CreatePartitionsResponse> = {
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r) {
    const topics = r.array((r) => {
      const name = r.string();
      const count = r.int32();
      r.nullableArray((r) => r.array((r) => r.int32(), 4), 4);
      return { name, count };
    }, 10);
    return { topics, timeoutMs: r.int32(), validateOnly: r.bool() };
  },
  encodeResponse(w, _v, res) {
    w.int32(0);
    w.array(res.results, (w, t) => w.string(t.name).int16(t.errorCode).nullableString(t.errorMessage));
  },
};
