import { createHash, Hash } from 'node:crypto';
import { DIGEST_ENTRY } from './header';

/**
 * The trailer digest: SHA-256 over (area:u8, rabn:u32 LE, crc:u32 LE) per record, staged in a
 * 64 KiB buffer so the hash is fed in large updates rather than once per record.
 */
export class RecordDigest {
  private readonly hash: Hash = createHash('sha256');
  private readonly stage = Buffer.allocUnsafe(DIGEST_ENTRY * 7282);
  private used = 0;

  add(area: number, rabn: number, crc: number): void {
    if (this.used === this.stage.length) {
      this.hash.update(this.stage);
      this.used = 0;
    }
    const s = this.stage;
    const o = this.used;
    s[o] = area;
    s.writeUInt32LE(rabn, o + 1);
    s.writeUInt32LE(crc, o + 5);
    this.used = o + DIGEST_ENTRY;
  }

  /** Finishes the digest (hex); the object is unusable afterwards. */
  hex(): string {
    if (this.used > 0) this.hash.update(this.stage.subarray(0, this.used));
    return this.hash.digest('hex');
  }
}
