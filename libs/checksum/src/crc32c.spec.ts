import { crc32c } from './crc32c';

describe('crc32c', () => {
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
});
