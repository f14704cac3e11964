import type { ApiCodec } from '../api';

/**
 * Heartbeat (key 12)
 * Request v0-v2: group_id STRING generation_id INT32 member_id STRING
 * Request v3: + group_instance_id NULLABLE_STRING
 * Response v0: error_code INT16
 * Response v1-v3: throttle_time_ms INT32 error_code INT16
 */
export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
}
export interface HeartbeatResponse {
  readonly errorCode: number;
}

export const heartbeatApi: ApiCodec<HeartbeatRequest, HeartbeatResponse> = {
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 3,
  decodeRequest(r, v) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    if (v >= 3) r.nullableString();
    return { groupId, generationId, memberId };
  },
  encodeResponse(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode);
  },
};
