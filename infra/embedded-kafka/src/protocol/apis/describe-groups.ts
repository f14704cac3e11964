import type { ApiCodec } from '../api';

/**
 * DescribeGroups (key 15)
 * Request v0-v2: [groups STRING]
 * Response v0: [groups => error_code INT16 group_id STRING group_state STRING protocol_type STRING protocol_data STRING
 *               [members => member_id STRING client_id STRING client_host STRING member_metadata BYTES member_assignment BYTES]]
 * Response v1-v2: throttle_time_ms INT32 first
 */
export interface DescribedMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly clientHost: string;
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}
export interface DescribedGroup {
  readonly errorCode: number;
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  readonly protocol: string;
  readonly members: DescribedMember[];
}
export interface DescribeGroupsRequest {
  readonly groups: string[];
}
export interface DescribeGroupsResponse {
  readonly groups: DescribedGroup[];
}

export const describeGroupsApi: ApiCodec<DescribeGroupsRequest, DescribeGroupsResponse> = {
  key: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 2,
  decodeRequest(r) {
    return { groups: r.array((r) => r.string(), 2) };
  },
  encodeResponse(w, v, res) {
    if (v >= 1) w.int32(0);
    w.array(res.groups, (w, g) => {
      w.int16(g.errorCode).string(g.groupId).string(g.state).string(g.protocolType).string(g.protocol);
      w.array(g.members, (w, m) =>
        w.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment),
      );
    });
  },
};
