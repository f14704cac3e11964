import fc from 'fast-check';
import { crc32c, crc32cImplementation } from './crc32c';
import { crc32cJs } from './crc32c-js';

/** Bit-at-a-time reference implementation. */
function reference(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

it('uses the native CRC-32C where it loads (this project installs @node-rs/crc32)', () => {
  expect(crc32cImplementation).toBe('native');
});

describe.each([
  ['crc32c', crc32c],
  ['crc32cJs', crc32cJs],
])('%s', (_name, crc32c) => {
  it('matches the standard check value for "123456789"', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
  it('matches the iSCSI test vector of 32 zero bytes', () => {
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
  });
  it('continues across chunks exactly as over the whole buffer', () => {
    const buf = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
    const whole = crc32c(buf);
    let c = 0;
    for (let i = 0; i < buf.length; i += 97) c = crc32c(buf.subarray(i, Math.min(buf.length, i + 97)), c);
    expect(c).toBe(whole);
    expect(crc32c(buf, 0, 10, 500)).toBe(crc32c(buf.subarray(10, 500)));
  });
  it('equals the bitwise reference at any alignment and length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(7), (bytes, shift) => {
        // Place the bytes at an arbitrary offset inside a larger buffer to exercise every alignment.
        const big = new Uint8Array(bytes.length + 8);
        big.set(bytes, shift);
        const view = big.subarray(shift, shift + bytes.length);
        expect(crc32c(view)).toBe(reference(bytes));
        expect(crc32c(big, 0, shift, shift + bytes.length)).toBe(reference(bytes));
        expect(crc32c(view, crc32c(Buffer.from('seed')))).toBe(crc32cJs(view, crc32cJs(Buffer.from('seed'))));
      }),
      { numRuns: 300 },
    );
  });
});
