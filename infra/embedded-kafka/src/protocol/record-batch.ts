import { crc32c } from '@deltaflow/checksum';

/**
 * Record batch v2 (magic 2) header, the only part the broker reads: batches are stored and
 * served as received, with baseOffset (and the leader epoch) patched; neither is CRC-covered.
 *
 *   baseOffset i64 @0 | batchLength i32 @8 | partitionLeaderEpoch i32 @12 | magic i8 @16 | crc u32 @17
 *   attributes i16 @21 | lastOffsetDelta i32 @23 | baseTimestamp i64 @27 | maxTimestamp i64 @35
 *   producerId i64 @43 | producerEpoch i16 @51 | baseSequence i32 @53 | recordsCount i32 @57 | records @61
 *
 * The CRC-32C covers bytes @21 to the end of the batch.
 */
export const BATCH_HEADER_BYTES = 61;
/** Bytes before batchLength's coverage starts (baseOffset + batchLength). */
export const BATCH_LOG_OVERHEAD = 12;

export interface BatchHeader {
  /** Byte position of the batch inside the examined buffer. */
  readonly position: number;
  /** Total bytes of the batch (batchLength + 12). */
  readonly size: number;
  readonly baseOffset: number;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
  readonly attributes: number;
}

export type BatchProblem = 'TRUNCATED' | 'BAD_LENGTH' | 'BAD_MAGIC' | 'BAD_CRC' | 'BAD_COUNT';

export type BatchCheck = { ok: true; header: BatchHeader } | { ok: false; problem: BatchProblem; detail: string };

/** Reads and validates (lengths, magic, record count, and optionally CRC) the batch at `pos`. */
export function checkBatch(buf: Buffer, pos: number, end: number, verifyCrc: boolean): BatchCheck {
  if (end - pos < BATCH_HEADER_BYTES) {
    return { ok: false, problem: 'TRUNCATED', detail: `${end - pos} bytes left, a batch header needs ${BATCH_HEADER_BYTES}` };
  }
  const batchLength = buf.readInt32BE(pos + 8);
  const size = batchLength + BATCH_LOG_OVERHEAD;
  if (batchLength < BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD) {
    return { ok: false, problem: 'BAD_LENGTH', detail: `batchLength ${batchLength} below the header size` };
  }
  if (size > end - pos) {
    return { ok: false, problem: 'TRUNCATED', detail: `batch of ${size} bytes but only ${end - pos} remain` };
  }
  const magic = buf.readInt8(pos + 16);
  if (magic !== 2) return { ok: false, problem: 'BAD_MAGIC', detail: `magic ${magic}, only 2 is supported` };
  const lastOffsetDelta = buf.readInt32BE(pos + 23);
  const recordsCount = buf.readInt32BE(pos + 57);
  if (lastOffsetDelta < 0 || recordsCount < 0) {
    return { ok: false, problem: 'BAD_COUNT', detail: `lastOffsetDelta ${lastOffsetDelta}, recordsCount ${recordsCount}` };
  }
  if (verifyCrc) {
    const stored = buf.readUInt32BE(pos + 17);
    const actual = crc32c(buf, 0, pos + 21, pos + size);
    if (stored !== actual) {
      return { ok: false, problem: 'BAD_CRC', detail: `crc ${stored.toString(16)} != computed ${actual.toString(16)}` };
    }
  }
  return { ok: true, header: readBatchHeader(buf, pos) };
}

/**
 * The header fields of the batch at `pos`, unchecked: only for batches already validated (on
 * disk, behind the segment index). Needs BATCH_HEADER_BYTES at `pos`, not the whole batch.
 */
export function readBatchHeader(buf: Buffer, pos: number): BatchHeader {
  return {
    position: pos,
    size: buf.readInt32BE(pos + 8) + BATCH_LOG_OVERHEAD,
    baseOffset: Number(buf.readBigInt64BE(pos)),
    lastOffsetDelta: buf.readInt32BE(pos + 23),
    maxTimestamp: Number(buf.readBigInt64BE(pos + 35)),
    producerId: Number(buf.readBigInt64BE(pos + 43)),
    producerEpoch: buf.readInt16BE(pos + 51),
    baseSequence: buf.readInt32BE(pos + 53),
    recordsCount: buf.readInt32BE(pos + 57),
    attributes: buf.readInt16BE(pos + 21),
  };
}

/** Rewrites the broker-owned, non-CRC-covered fields of a stored batch. */
export function patchBatchOffsets(buf: Buffer, pos: number, baseOffset: number, leaderEpoch: number): void {
  buf.writeBigInt64BE(BigInt(baseOffset), pos);
  buf.writeInt32BE(leaderEpoch, pos + 12);
}
