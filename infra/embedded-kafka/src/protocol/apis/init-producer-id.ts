import type { ApiCodec } from '../api';

/**
 * InitProducerId (key 22)
 * Request v0-v1: transactional_id NULLABLE_STRING transaction_timeout_ms INT32
 * Response v0-v1: throttle_time_ms INT32 error_code INT16 producer_id INT64 producer_epoch INT16
 */
export interface InitProducerIdRequest {
  readonly transactionalId: string | null;
  readonly transactionTimeoutMs: number;
}
export interface InitProducerIdResponse {
  readonly errorCode: number;
  readonly producerId: number;
  readonly producerEpoch: number;
}

export const initProducerIdApi: ApiCodec<InitProducerIdRequest, InitProducerIdResponse> = {
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r) {
    return { transactionalId: r.nullableString(), transactionTimeoutMs: r.int32() };
  },
  encodeResponse(w, _v, res) {
    w.int32(0).int16(res.errorCode).int64(res.producerId).int16(res.producerEpoch);
  },
};
