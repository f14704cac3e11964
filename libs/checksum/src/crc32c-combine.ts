/**
 * crc32cCombine: the CRC-32C of A followed by B from crc(A), crc(B) and B's length, without reading
 * B (zlib's crc32_combine, for the Castagnoli polynomial). About 32 · log2(len) bit steps: a
 * producer that already knows a payload's CRC covers it in a record batch's CRC for free.
 */
const POLY = 0x82f63b78; // reflected Castagnoli

/** a · b mod P, both polynomials reflected (bit 31 is x^0). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) mod P */
const X2N: number[] = [];
{
  let p = 0x40000000; // x^1
  for (let k = 0; k < 32; k++) {
    X2N.push(p);
    p = multModP(p, p);
  }
}

/** x^(n · 2^k) mod P */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31], p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC-32C of A ‖ B, given crcA = crc32c(A), crcB = crc32c(B) and lengthB = B's length in bytes. */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError(`crc32cCombine: length ${lengthB} is not a byte count`);
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}
