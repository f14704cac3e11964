import type { ApiCodec } from '../api';

/**
 * SaslHandshake (key 17): the client names its SASL mechanism.
 * Request v0-v1: mechanism STRING
 * Response v0-v1: error_code INT16 [mechanisms STRING]
 * After v0 the tokens follow as bare size-prefixed frames (kafka-python 2.0); after v1 they travel
 * in SaslAuthenticate requests (kafkajs, librdkafka).
 */
export interface SaslHandshakeRequest {
  readonly mechanism: string;
}
export interface SaslHandshakeResponse {
  readonly errorCode: number;
  readonly mechanisms: string[];
}

export const saslHandshakeApi: ApiCodec<SaslHandshakeRequest, SaslHandshakeResponse> = {
  key: 17,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r) {
    return { mechanism: r.string() };
  },
  encodeResponse(w, _v, res) {
    w.int16(res.errorCode).array(res.mechanisms, (w, m) => w.string(m));
  },
};
