import type { ApiCodec } from '../api';

/**
 * LeaveGroup (key 13)
 * Request v0-v2: group_id STRING member_id STRING
 * Request v3: group_id STRING [members => member_id STRING group_instance_id NULLABLE_STRING]
 * Response v0: error_code INT16
 * Response v1-v2: throttle_time_ms INT32 error_code INT16
 * Response v3: throttle_time_ms INT32 error_code INT16 [members => member_id STRING group_instance_id NULLABLE_STRING error_code INT16]
 */
export interface LeaveGroupRequest {
  readonly groupId: string;
  readonly members: { readonly memberId: string; readonly groupInstanceId: string | null }[];
}
export interface LeaveGroupResponse {
  readonly errorCode: number;
  readonly members: { readonly memberId: string; readonly groupInstanceId: string | null; readonly errorCode: number }[];
}

export const leaveGroupApi: ApiCodec<LeaveGroupRequest, LeaveGroupResponse> = {
  key: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 3,
  decodeRequest(r, v) {
    const groupId = r.string();
    if (v < 3) return { groupId, members: [{ memberId: r.string(), groupInstanceId: null }] };
    const members = r.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() }), 4);
    return { groupId, members };
  },
  encodeResponse(w, v, res) {
    if (v >= 1) w.int32(0);
    // Before v3 there is one member; its outcome is the top-level error.
    const top = v >= 3 ? res.errorCode : res.errorCode || (res.members[0]?.errorCode ?? 0);
    w.int16(top);
    if (v >= 3) {
      w.array(res.members, (w, m) => w.string(m.memberId).nullableString(m.groupInstanceId).int16(m.errorCode));
    }
  },
};
