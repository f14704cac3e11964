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

describe('PartitionLog: idempotent-producer state across restarts', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ek-pstate-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const idem = (pid: number, seq: number, count = 2, epoch = 0) => {
    const b = makeBatch(count, 20);
    b.writeBigInt64BE(BigInt(pid), 43);
    b.writeInt16BE(epoch, 51);
    b.writeInt32BE(seq, 53);
    b.writeUInt32BE(crc32c(b, 0, 21, b.length), 17);
    return b;
  };
  const snapshot = () => path.join(dir, 'producer-state.snapshot');
  /** A crash: the files are closed without the shutdown snapshot. */
  const crash = (log: PartitionLog) => (log as unknown as { segments: Segment[] }).segments.forEach((s) => s.close());

  it('rebuilds sequences from the batch headers when there is no snapshot (crash)', () => {
    let log = PartitionLog.open('t', 0, dir, { ...CONFIG, segmentBytes: 1 << 20 }, quiet);
    expect(append(log, idem(9, 0))).toEqual({ kind: 'appended', baseOffset: 0 });
    expect(append(log, makeBatch(1, 10))).toEqual({ kind: 'appended', baseOffset: 2 }); // not idempotent
    expect(append(log, idem(9, 2))).toEqual({ kind: 'appended', baseOffset: 3 });
    expect(append(log, idem(11, 0, 3))).toEqual({ kind: 'appended', baseOffset: 5 });
    crash(log);
    expect(fs.existsSync(snapshot())).toBe(false);
    log = PartitionLog.open('t', 0, dir, CONFIG, quiet);
    expect(append(log, idem(9, 2))).toEqual({ kind: 'duplicate', baseOffset: 3 });
    expect(append(log, idem(9, 0))).toEqual({ kind: 'duplicate', baseOffset: 0 });
    expect(append(log, idem(11, 0, 3))).toEqual({ kind: 'duplicate', baseOffset: 5 });
    expect(append(log, idem(9, 7)).kind).toBe('out_of_order');
    expect(append(log, idem(9, 4))).toEqual({ kind: 'appended', baseOffset: 8 });
    expect(log.producers.maxProducerId).toBe(11);
    expect(log.highWatermark).toBe(10);
    log.close();
  });

  it('uses the snapshot written at roll and replays only the batches after it', () => {
    let log = PartitionLog.open('t', 0, dir, { ...CONFIG, segmentBytes: 400 }, quiet);
    for (let i = 0; i < 6; i++) append(log, idem(4, i * 2)); // 81-byte batches: rolls every 4
    expect(fs.existsSync(snapshot())).toBe(true);
    const snapOffset = JSON.parse(fs.readFileSync(snapshot(), 'utf8').slice(9)).offset;
    expect(snapOffset).toBeGreaterThan(0);
    expect(snapOffset).toBeLessThan(log.highWatermark);
    crash(log);
    // The segments the snapshot covers are gone: only the snapshot can know producer 4's state.
    for (const f of fs.readdirSync(dir)) if (/^\d{20}\.(log|index)$/.test(f) && Number(f.slice(0, 20)) < snapOffset) fs.rmSync(path.join(dir, f));
    log = PartitionLog.open('t', 0, dir, CONFIG, quiet);
    expect(log.logStartOffset).toBe(snapOffset);
    expect(append(log, idem(4, 6))).toEqual({ kind: 'duplicate', baseOffset: 6 }); // known from the snapshot only
    expect(append(log, idem(4, 10))).toEqual({ kind: 'duplicate', baseOffset: 10 }); // replayed
    expect(append(log, idem(4, 12))).toEqual({ kind: 'appended', baseOffset: 12 });
    log.close();
  });

  it('ignores a damaged snapshot or one past a truncated log end, and rebuilds from the log', () => {
    let log = PartitionLog.open('t', 0, dir, { ...CONFIG, segmentBytes: 1 << 20 }, quiet);
    append(log, idem(3, 0));
    append(log, idem(3, 2));
    log.close(); // writes the snapshot at offset 4
    const good = fs.readFileSync(snapshot());
    fs.writeFileSync(snapshot(), Buffer.concat([good.subarray(0, 30), Buffer.from('X'), good.subarray(31)]));
    const warnings: string[] = [];
    const record = (_: string, m: string) => warnings.push(m);
    log = PartitionLog.open('t', 0, dir, CONFIG, record);
    expect(warnings.join('\n')).toMatch(/snapshot unusable \(CRC mismatch\)/);
    expect(append(log, idem(3, 2))).toEqual({ kind: 'duplicate', baseOffset: 2 });
    append(log, idem(3, 4));
    log.close(); // snapshot at 6
    // A torn tail cut the last batch: the snapshot (offset 6) now lies beyond the log end (4).
    fs.truncateSync(path.join(dir, Segment.fileName(0, 'log')), 81 * 2 + 10);
    log = PartitionLog.open('t', 0, dir, CONFIG, record);
    expect(warnings.join('\n')).toMatch(/past the log end 4/);
    expect(log.highWatermark).toBe(4);
    expect(append(log, idem(3, 4))).toEqual({ kind: 'appended', baseOffset: 4 }); // not a duplicate: it was lost
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
