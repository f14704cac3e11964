/** CRC-32C (Castagnoli) in JavaScript (slicing-by-8): the fallback where the native one does not load, and the reference it is tested against. */
const TABLE = (() => {
  // Slicing-by-8 tables: 8 x 256 entries, derived from the reflected polynomial 0x82F63B78.
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) t[s * 256 + i] = (t[(s - 1) * 256 + i] >>> 8) ^ t[t[(s - 1) * 256 + i] & 0xff];
  }
  return t;
})();

const T0 = TABLE.subarray(0, 256);
const T1 = TABLE.subarray(256, 512);
const T2 = TABLE.subarray(512, 768);
const T3 = TABLE.subarray(768, 1024);
const T4 = TABLE.subarray(1024, 1280);
const T5 = TABLE.subarray(1280, 1536);
const T6 = TABLE.subarray(1536, 1792);
const T7 = TABLE.subarray(1792, 2048);

/** The slicing-by-8 loop wants little-endian 32-bit loads; true on every platform Node runs on today. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Continues a CRC-32C over `buf[start, end)`; pass the previous result as `crc` (0 to begin). */
export function crc32cJs(buf: Uint8Array, crc = 0, start = 0, end = buf.length): number {
  let c = ~crc >>> 0;
  let i = start;
  // Bytewise up to a 4-byte aligned address, then two aligned 32-bit loads per 8 bytes
  // (much cheaper than eight byte loads), then the tail bytewise.
  while (i < end && (buf.byteOffset + i) & 3) c = T0[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  const words = LITTLE_ENDIAN ? (end - i) >>> 3 : 0;
  if (words > 0) {
    const w = new Uint32Array(buf.buffer, buf.byteOffset + i, words * 2);
    for (let k = 0; k < w.length; k += 2) {
      const a = (c ^ w[k]) >>> 0;
      const b = w[k + 1];
      c =
        T7[a & 0xff] ^
        T6[(a >>> 8) & 0xff] ^
        T5[(a >>> 16) & 0xff] ^
        T4[a >>> 24] ^
        T3[b & 0xff] ^
        T2[(b >>> 8) & 0xff] ^
        T1[(b >>> 16) & 0xff] ^
        T0[b >>> 24];
    }
    i += words * 8;
  }
  while (i < end) c = T0[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
