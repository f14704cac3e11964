import { isRejection, RejectedRecord } from './errors';

describe('isRejection', () => {
  it('treats coded domain and contract errors as permanent rejections', () => {
    expect(isRejection(new RejectedRecord('VALIDATION', 'bad'))).toBe(true);
    expect(isRejection(Object.assign(new Error('bad field'), { name: 'ContractError', code: 'VALIDATION' }))).toBe(true);
  });

  it('retries transient errors: retriable ones, KafkaJS errors, Node system errors, uncoded errors', () => {
    expect(isRejection(Object.assign(new Error('later'), { code: 'SYNC_NOT_SEEN', retriable: true }))).toBe(false);
    expect(isRejection(Object.assign(new Error('x'), { name: 'KafkaJSNumberOfRetriesExceeded', code: 'X' }))).toBe(false);
    expect(isRejection(Object.assign(new Error('reset'), { code: 'ECONNRESET', errno: -104, syscall: 'read' }))).toBe(false);
    expect(isRejection(new Error('plain'))).toBe(false);
  });
});
