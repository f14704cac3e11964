import fc from 'fast-check';
import { crc32c } from './crc32c';
import { crc32cCombine } from './crc32c-combine';

describe('crc32cCombine', () => {
  it('gives the CRC of the concatenation, for any two byte strings (empty ones too)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        expect(crc32cCombine(crc32c(a), crc32c(b), b.length)).toBe(crc32c(Buffer.concat([a, b])));
      }),
      { numRuns: 300 },
    );
  });

  it('covers a 256 KiB superblock payload after a record prefix', () => {
    const prefix = Buffer.from('record prefix and envelope head');
    const payload = Buffer.alloc(256 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 2654435761) >>> 24;
    expect(crc32cCombine(crc32c(prefix), crc32c(payload), payload.length)).toBe(crc32c(Buffer.concat([prefix, payload])));
  });

  it('refuses a length that is not a byte count', () => {
    expect(() => crc32cCombine(0, 0, -1)).toThrow(/not a byte count/);
  });
});
