import type { ApiCodec } from '../api';

/**
 * SyncGroup (key 14)
 * Request v0-v2: group_id STRING generation_id INT32 member_id STRING [assignments => member_id STRING assignment BYTES]
 * Request v3: + group_instance_id NULLABLE_STRING after member_id
 * Response v0: error_code INT16 assignment BYTES
 * Response v1-v3: throttle_time_ms INT32 first
 */
export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly assignments: { readonly memberId: string; readonly assignment: Buffer }[];
}
export interface SyncGroupResponse {
  readonly errorCode: number;
  readonly assignment: Buffer;
}

export const syncGroupApi: ApiCodec<SyncGroupRequest, SyncGroupResponse> = {
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 3,
  decodeRequest(r, v) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    if (v >= 3) r.nullableString();
    const assignments = r.array((r) => ({ memberId: r.string(), assignment: Buffer.from(r.bytes()) }), 6);
    return { groupId, generationId, memberId, assignments };
  },
  encodeResponse(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode).bytes(res.assignment);
  },
};
