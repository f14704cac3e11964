import type { ApiCodec } from '../api';

/**
 * JoinGroup (key 11)
 * Request v0: group_id STRING session_timeout_ms INT32 member_id STRING protocol_type STRING
 *             [protocols => name STRING metadata BYTES]
 * Request v1-v4: + rebalance_timeout_ms INT32 after session_timeout_ms
 * Request v5: + group_instance_id NULLABLE_STRING after member_id
 * Response v0-v1: error_code INT16 generation_id INT32 protocol_name STRING leader STRING member_id STRING
 *                 [members => member_id STRING metadata BYTES]
 * Response v2-v4: throttle_time_ms INT32 first
 * Response v5: members + group_instance_id NULLABLE_STRING after member_id
 */
export interface JoinGroupProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}
export interface JoinGroupRequest {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string;
  readonly protocols: JoinGroupProtocol[];
}
export interface JoinGroupMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}
export interface JoinGroupResponse {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leader: string;
  readonly memberId: string;
  readonly members: JoinGroupMember[];
}

export const joinGroupApi: ApiCodec<JoinGroupRequest, JoinGroupResponse> = {
  key: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 5,
  decodeRequest(r, v) {
    const groupId = r.string();
    const sessionTimeoutMs = r.int32();
    const rebalanceTimeoutMs = v >= 1 ? r.int32() : sessionTimeoutMs;
    const memberId = r.string();
    const groupInstanceId = v >= 5 ? r.nullableString() : null;
    const protocolType = r.string();
    const protocols = r.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) }), 6);
    return { groupId, sessionTimeoutMs, rebalanceTimeoutMs, memberId, groupInstanceId, protocolType, protocols };
  },
  encodeResponse(w, v, res) {
    if (v >= 2) w.int32(0);
    w.int16(res.errorCode).int32(res.generationId).string(res.protocolName).string(res.leader).string(res.memberId);
    w.array(res.members, (w, m) => {
      w.string(m.memberId);
      if (v >= 5) w.nullableString(m.groupInstanceId);
      w.bytes(m.metadata);
    });
  },
};
