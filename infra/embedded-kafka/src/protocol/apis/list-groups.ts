import type { ApiCodec } from '../api';

/**
 * ListGroups (key 16)
 * Request v0-v2: (empty)
 * Response v0: error_code INT16 [groups => group_id STRING protocol_type STRING]
 * Response v1-v2: throttle_time_ms INT32 first
 */
export type ListGroupsRequest = Record<string, never>;
export interface ListGroupsResponse {
  readonly errorCode: number;
  readonly groups: { readonly groupId: string; readonly protocolType: string }[];
}

export const listGroupsApi: ApiCodec<ListGroupsRequest, ListGroupsResponse> = {
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 2,
  decodeRequest() {
    return {};
  },
  encodeResponse(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode);
    w.array(res.groups, (w, g) => w.string(g.groupId).string(g.protocolType));
  },
};
