import type { ApiCodec } from '../api';

/**
 * DeleteGroups (key 42)
 * Request v0-v1: [groups_names STRING]
 * Response v0-v1: throttle_time_ms INT32 [results => group_id STRING error_code INT16]
 */
export interface DeleteGroupsRequest {
  readonly groupNames: string[];
}
export interface DeleteGroupsResponse {
  readonly results: { readonly groupId: string; readonly errorCode: number }[];
}

export const deleteGroupsApi: ApiCodec<DeleteGroupsRequest, DeleteGroupsResponse> = {
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r) {
    return { groupNames: r.array((r) => r.string(), 2) };
  },
  encodeResponse(w, _v, res) {
    w.int32(0);
    w.array(res.results, (w, g) => w.string(g.groupId).int16(g.errorCode));
  },
};
