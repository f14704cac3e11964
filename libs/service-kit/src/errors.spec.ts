import { dispositionOf, isRejection, RejectedRecord } from './errors';

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

  it('retries PostgreSQL faults (pg DatabaseError, TypeORM QueryFailedError) except data exceptions (class 22)', () => {
    const pgError = (code: string) => Object.assign(new Error('pg'), { name: 'DatabaseError', code, severity: 'ERROR', routine: 'x' });
    const queryFailed = (code: string) => Object.assign(new Error('query failed'), { name: 'QueryFailedError', code, driverError: pgError(code) });
    for (const code of ['40001', '40P01', '57P01', '53100', '23505', '55P03']) {
      expect({ code, rejected: isRejection(pgError(code)) }).toEqual({ code, rejected: false });
      expect({ code, rejected: isRejection(queryFailed(code)) }).toEqual({ code, rejected: false });
    }
    expect(isRejection(pgError('22P02'))).toBe(true);
    expect(isRejection(queryFailed('22003'))).toBe(true);
  });

  it('stops on bugs instead of dead-lettering or retrying them: TypeErrors, Node ERR_* codes, invariant codes', () => {
    expect(dispositionOf(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe('stop');
    expect(dispositionOf(Object.assign(new TypeError('bad arg'), { code: 'ERR_INVALID_ARG_TYPE' }))).toBe('stop');
    expect(dispositionOf(Object.assign(new RangeError('out'), { code: 'ERR_OUT_OF_RANGE' }))).toBe('stop');
    expect(dispositionOf(Object.assign(new Error('x'), { code: 'INVARIANT' }))).toBe('stop');
    expect(dispositionOf('a string')).toBe('stop');
    expect(isRejection(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' }))).toBe(false);
    // the rest keeps its disposition
    expect(dispositionOf(new RejectedRecord('VALIDATION', 'bad'))).toBe('reject');
    expect(dispositionOf(new Error('Connection terminated unexpectedly'))).toBe('retry');
  });
});
