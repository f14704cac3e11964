import type { ApiCodec } from '../api';

/**
 * FindCoordinator (key 10)
 * Request v0: key STRING
 * Request v1-v2: key STRING key_type INT8 (0 = group, 1 = transaction)
 * Response v0: error_code INT16 node_id INT32 host STRING port INT32
 * Response v1-v2: throttle_time_ms INT32 error_code INT16 error_message NULLABLE_STRING node_id INT32 host STRING port INT32
 */
export interface FindCoordinatorRequest {
  readonly key: string;
  readonly keyType: number;
}
export interface FindCoordinatorResponse {
  readonly errorCode: number;
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export const findCoordinatorApi: ApiCodec<FindCoordinatorRequest, FindCoordinatorResponse> = {
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 2,
  decodeRequest(r, v) {
    const key = r.string();
    const keyType = v >= 1 ? r.int8() : 0;
    return { key, keyType };
  },
  encodeResponse(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode);
    if (v >= 1) w.nullableString(null);
    w.int32(res.nodeId).string(res.host).int32(res.port);
  },
};
