import type { ApiCodec } from '../api';

/**
 * SaslAuthenticate (key 36): one SASL token each way.
 * Request v0-v1: auth_bytes BYTES
 * Response v0: error_code INT16 error_message NULLABLE_STRING auth_bytes BYTES
 * Response v1: v0 + session_lifetime_ms INT64 (0: no re-authentication required, KIP-368)
 * v2 is flexible and not implemented.
 */
export interface SaslAuthenticateRequest {
  readonly authBytes: Buffer;
}
export interface SaslAuthenticateResponse {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly authBytes: Buffer;
}

export const saslAuthenticateApi: ApiCodec<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  key: 36,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r) {
    return { authBytes: r.bytes() };
  },
  encodeResponse(w, v, res) {
    w.int16(res.errorCode).nullableString(res.errorMessage).bytes(res.authBytes);
    if (v >= 1) w.int64(0);
  },
};
