import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import { checkBatch } from '../protocol/record-batch';
import { PartitionLog } from './partition-log';
import { Segment } from './segment';

/** A record batch v2 with `count` records (opaque record bytes: the broker never parses them). */
function makeBatch(count: number, payload: number, timestamp = 1_700_000_000_000): Buffer {
  const b = Buffer.alloc(61 + payload, 0x5a);
  b.writeBigInt64BE(0n, 0);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt32BE(0, 12);
  b.writeInt8(2, 16);
  b.writeInt16BE(0, 21);
  b.writeInt32BE(count - 1, 23);
  b.writeBigInt64BE(BigInt(timestamp), 27);
  b.writeBigInt64BE(BigInt(timestamp), 35);
  b.writeBigInt64BE(-1n, 43);
  b.writeInt16BE(-1, 51);
  b.writeInt32BE(-1, 53);
  b.writeInt32BE(count, 57);
  b.writeUInt32BE(crc32c(b, 0, 21, b.length), 17);
  return b;
}

const CONFIG = { segmentBytes: 1024, retentionMs: -1, retentionBytes: -1 };
const quiet = () => undefined;

function append(log: PartitionLog, batch: Buffer, now = Date.now()) {
  const c = checkBatch(batch, 0, batch.length, true);
  if (!c.ok) throw new Error(c.detail);
  return log.append(batch, c.header, now);
}

describe('PartitionLog', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-log-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('assigns dense offsets, rolls segments and reads whole batches from the one holding an offset', () => {
    const log = PartitionLog.open('t', 0, dir, CONFIG, quiet);
    for (let i = 0; i < 10; i++) expect(append(log, makeBatch(3, 200))).toEqual({ kind: 'appended', baseOffset: i * 3 });
    expect(log.highWatermark).toBe(30);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.log')).length).toBeGreaterThan(1);
    const read = log.read(16, 10)!; // inside the batch 15..17; limit below one batch still returns it whole
    expect(read.length).toBe(261);
    expect(Number(read.readBigInt64BE(0))).toBe(15);
    expect(log.read(30, 1000)).toBeNull();
    log.close();
  });

  it('recovers after a torn write: the partial last batch is cut, earlier ones are kept', () => {
    let log = PartitionLog.open('t', 0, dir, { ...CONFIG, segmentBytes: 1 << 20 }, quiet);
    for (let i = 0; i < 4; i++) append(log, makeBatch(2, 100));
    log.close();
    const file = path.join(dir, Segment.fileName(0, 'log'));
    fs.appendFileSync(file, makeBatch(2, 100).subarray(0, 90)); // a crash in the middle of a write
    const corrupt = fs.readFileSync(file);
    log = PartitionLog.open('t', 0, dir, CONFIG, quiet);
    expect(log.highWatermark).toBe(8);
    expect(fs.statSync(file).size).toBe(corrupt.length - 90);
    expect(append(log, makeBatch(1, 10))).toEqual({ kind: 'appended', baseOffset: 8 });
    log.close();
  });

  it('ignores index entries that point past a truncated log', () => {
    let log = PartitionLog.open('t', 0, dir, { ...CONFIG, segmentBytes: 1 << 20 }, quiet);
    for (let i = 0; i < 3; i++) append(log, makeBatch(1, 100));
    log.close();
    const file = path.join(dir, Segment.fileName(0, 'log'));
    fs.truncateSync(file, 161 * 2 + 50);
    log = PartitionLog.open('t', 0, dir, CONFIG, quiet);
    expect(log.highWatermark).toBe(2);
    log.close();
  });

  it('applies retention.bytes and retention.ms to closed segments only', () => {
    const log = PartitionLog.open('t', 0, dir, { segmentBytes: 600, retentionMs: -1, retentionBytes: 1000 }, quiet);
    for (let i = 0; i < 20; i++) append(log, makeBatch(1, 200));
    expect(log.applyRetention(Date.now())).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(log.highWatermark).toBe(20);
    expect(log.read(log.logStartOffset, 1)).not.toBeNull();
    log.config = { segmentBytes: 600, retentionMs: 1000, retentionBytes: -1 };
    log.applyRetention(Date.now() + 10 * 365 * 86_400_000);
    expect(log.logStartOffset).toBe(log.activeSegment.baseOffset); // only the active segment is left
    log.close();
  });

  it('tracks idempotent producer sequences: duplicates answered with their offset, gaps refused', () => {
    const log = PartitionLog.open('t', 0, dir, { ...CONFIG, segmentBytes: 1 << 20 }, quiet);
    const idem = (seq: number) => {
      const b = makeBatch(2, 20);
      b.writeBigInt64BE(5n, 43);
      b.writeInt16BE(0, 51);
      b.writeInt32BE(seq, 53);
      b.writeUInt32BE(crc32c(b, 0, 21, b.length), 17);
      return b;
    };
    expect(append(log, idem(0))).toEqual({ kind: 'appended', baseOffset: 0 });
    expect(append(log, idem(2))).toEqual({ kind: 'appended', baseOffset: 2 });
    expect(append(log, idem(2))).toEqual({ kind: 'duplicate', baseOffset: 2 });
    expect(append(log, idem(7)).kind).toBe('out_of_order');
    expect(log.highWatermark).toBe(4);
    log.close();
  });
});

describe('checkBatch', () => {
  it('detects a flipped byte (CRC), a bad magic and a truncated batch', () => {
    const b = makeBatch(1, 50);
    expect(checkBatch(b, 0, b.length, true).ok).toBe(true);
    const flipped = Buffer.from(b);
    flipped[70] ^= 1;
    expect(checkBatch(flipped, 0, flipped.length, true)).toMatchObject({ ok: false, problem: 'BAD_CRC' });
    const magic = Buffer.from(b);
    magic[16] = 1;
    expect(checkBatch(magic, 0, magic.length, true)).toMatchObject({ ok: false, problem: 'BAD_MAGIC' });
    expect(checkBatch(b, 0, b.length - 1, true)).toMatchObject({ ok: false, problem: 'TRUNCATED' });
  });
});
