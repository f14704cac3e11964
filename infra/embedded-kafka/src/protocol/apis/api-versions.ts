import type { ApiCodec } from '../api';

/**
 * ApiVersions (key 18)
 * Request v0-v2: (empty)
 * Request v3 (flexible): client_software_name COMPACT_STRING client_software_version COMPACT_STRING TAG_BUFFER
 * Response v0: error_code INT16 [api_keys => api_key INT16 min_version INT16 max_version INT16]
 * Response v1-v2: v0 + throttle_time_ms INT32
 * Response v3: error_code INT16 [api_keys COMPACT_ARRAY => api_key min max TAG_BUFFER] throttle_time_ms INT32 TAG_BUFFER
 *   The response header stays v0 (correlation id only, no tags), as Kafka does for this API.
 */
export interface ApiVersionsRequest {
  readonly clientSoftwareName: string | null;
  readonly clientSoftwareVersion: string | null;
}
export interface ApiVersionRange {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}
export interface ApiVersionsResponse {
  readonly errorCode: number;
  readonly apiKeys: readonly ApiVersionRange[];
}

export const apiVersionsApi: ApiCodec<ApiVersionsRequest, ApiVersionsResponse> = {
  key: 18,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 3,
  decodeRequest(r, v) {
    if (v < 3) return { clientSoftwareName: null, clientSoftwareVersion: null };
    const clientSoftwareName = r.compactNullableString();
    const clientSoftwareVersion = r.compactNullableString();
    r.taggedFields();
    return { clientSoftwareName, clientSoftwareVersion };
  },
  encodeResponse(w, v, res) {
    w.int16(res.errorCode);
    if (v >= 3) {
      w.compactArray(res.apiKeys, (w, k) => w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion).noTags());
      w.int32(0).noTags();
      return;
    }
    w.array(res.apiKeys, (w, k) => w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion));
    if (v >= 1) w.int32(0);
  },
};
