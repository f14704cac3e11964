import * as fs from 'node:fs';
import * as path from 'node:path';
import { patchBatchOffsets, type BatchHeader } from '../protocol/record-batch';
import { isIdempotent, ProducerStateTable } from './producer-state';
import { fsyncDir } from '@deltaflow/core';
import { Segment, type SegmentLogger } from './segment';

const LOG_START_FILE = 'log-start-offset';

/** Per-topic settings that the log honours. -1 = unbounded. */
export interface LogConfig {
  readonly segmentBytes: number;
  readonly retentionMs: number;
  readonly retentionBytes: number;
}

export type AppendOutcome =
  | { kind: 'appended'; baseOffset: number }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'out_of_order'; detail: string }
  | { kind: 'fenced'; detail: string };

/**
 * One partition: an ordered list of segments, the log-end offset, and the log start offset.
 * Appends are synchronous writes into the page cache (so they are in order and survive a kill -9
 * of the broker process); durability against power loss is the flusher's job.
 */
export class PartitionLog {
  private segments: Segment[] = [];
  private readonly listeners = new Set<() => void>();
  /** Idempotent-producer state, rebuilt from the log (and its snapshot) at open. */
  readonly producers = new ProducerStateTable();
  logStartOffset = 0;

  private constructor(
    readonly topic: string,
    readonly partition: number,
    readonly dir: string,
    public config: LogConfig,
    private readonly log: SegmentLogger,
  ) {}

  /** Opens (recovering) or creates the partition directory. */
  static open(topic: string, partition: number, dir: string, config: LogConfig, log: SegmentLogger): PartitionLog {
    fs.mkdirSync(dir, { recursive: true });
    const p = new PartitionLog(topic, partition, dir, config, log);
    const bases = fs
      .readdirSync(dir)
      .filter((f) => /^\d{20}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    for (const base of bases) p.segments.push(Segment.open(dir, base, log).segment);
    if (p.segments.length === 0) p.segments.push(Segment.create(dir, 0));
    p.logStartOffset = p.loadLogStart();
    p.rebuildProducerState();
    p.deleteSegmentsBelowStart(); // a deletion interrupted by a crash
    return p;
  }

  /**
   * The log start offset: the first segment's base, or further on if DeleteRecords moved it
   * inside a segment (kept in `log-start-offset`, as Kafka's log-start-offset-checkpoint). A
   * value past the log end (a torn tail was cut after it was written) is clamped to the end.
   */
  private loadLogStart(): number {
    const base = this.segments[0].baseOffset;
    const file = path.join(this.dir, LOG_START_FILE);
    if (!fs.existsSync(file)) return base;
    const text = fs.readFileSync(file, 'utf8').trim();
    const stored = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(stored)) {
      this.log('error', `${this.topic}-${this.partition}: ${LOG_START_FILE} is damaged ('${text.slice(0, 40)}'); log start offset falls back to ${base}`);
      return base;
    }
    const end = this.highWatermark;
    if (stored > end) {
      this.log('warn', `${this.topic}-${this.partition}: log start offset ${stored} is past the log end ${end}; using ${end}`);
      return end;
    }
    return Math.max(base, stored);
  }

  /** Writes the log start offset durably (temp file, fsync, rename, directory fsync). */
  private persistLogStart(): void {
    const file = path.join(this.dir, LOG_START_FILE);
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, `${this.logStartOffset}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    fsyncDir(this.dir);
  }

  /**
   * DeleteRecords: moves the log start offset to `offset` (-1: the high watermark). Records
   * below it are no longer served (Fetch answers OFFSET_OUT_OF_RANGE, ListOffsets earliest
   * returns it), and segments wholly below it are deleted; if that is every record, the active
   * segment is rolled first so its space is freed too. The new start is durable on return.
   */
  deleteRecordsBefore(offset: number): { kind: 'moved'; logStartOffset: number } | { kind: 'out_of_range'; detail: string } {
    const hw = this.highWatermark;
    const target = offset === -1 ? hw : offset;
    if (target < 0 || target > hw) return { kind: 'out_of_range', detail: `offset ${offset} outside 0..${hw} (or -1)` };
    if (target <= this.logStartOffset) return { kind: 'moved', logStartOffset: this.logStartOffset };
    this.logStartOffset = target;
    this.persistLogStart();
    const a = this.active;
    if (a.count > 0 && a.nextOffset <= target) this.roll();
    this.deleteSegmentsBelowStart();
    return { kind: 'moved', logStartOffset: this.logStartOffset };
  }

  /** Deletes the closed segments that hold no offset at or above the log start offset. */
  private deleteSegmentsBelowStart(): number {
    let removed = 0;
    while (this.segments.length > 1 && this.segments[0].nextOffset <= this.logStartOffset) {
      this.snapshotProducers(); // the deleted batches can no longer be replayed
      const first = this.segments.shift()!;
      first.delete();
      removed++;
    }
    return removed;
  }

  /**
   * Producer state = snapshot (if intact and not beyond the log end, which a torn tail can cut
   * back) + the idempotent batches stored after it, read from their headers.
   */
  private rebuildProducerState(): void {
    const end = this.highWatermark;
    let from = 0;
    const snap = this.producers.loadSnapshot(this.dir);
    if (snap && 'problem' in snap) {
      this.log('warn', `${this.topic}-${this.partition}: producer-state snapshot unusable (${snap.problem}); rebuilding from the log`);
    } else if (snap && snap.offset > end) {
      this.log('warn', `${this.topic}-${this.partition}: producer-state snapshot at ${snap.offset} is past the log end ${end}; rebuilding from the log`);
      this.producers.clear();
    } else if (snap) {
      from = snap.offset;
    }
    let replayed = 0;
    for (const seg of this.segments) {
      if (seg.nextOffset <= from) continue;
      seg.scanHeaders(from, (h) => {
        this.producers.noteId(h.producerId);
        if (!isIdempotent(h)) return;
        this.producers.record(h, h.baseOffset);
        replayed++;
      });
    }
    if (replayed > 0) this.log('info', `${this.topic}-${this.partition}: producer state rebuilt (${this.producers.size} producer(s), ${replayed} batch(es) replayed from ${from})`);
  }

  /** Writes the producer-state snapshot if it changed (at roll, before deleting segments, at close). */
  snapshotProducers(): void {
    if (this.producers.dirty) this.producers.writeSnapshot(this.dir, this.highWatermark);
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1];
  }

  /** Log-end offset = high watermark (single replica). */
  get highWatermark(): number {
    return this.active.nextOffset;
  }

  /** Segments, for the flusher (only the active one can be dirty). */
  get activeSegment(): Segment {
    return this.active;
  }

  /**
   * Appends one validated batch held in `buf` at `header.position`, assigning offsets.
   * Idempotent batches (producerId >= 0) are checked against the producer's sequence.
   */
  append(buf: Buffer, header: BatchHeader, nowMs: number): AppendOutcome {
    const idempotent = isIdempotent(header);
    if (idempotent) {
      const c = this.producers.check(header);
      if (c.kind !== 'ok') return c;
    }
    const seg = this.maybeRoll(header.size);
    const offset = seg.nextOffset;
    patchBatchOffsets(buf, header.position, offset, 0);
    seg.append(buf.subarray(header.position, header.position + header.size), offset, header.lastOffsetDelta, header.maxTimestamp, nowMs);
    if (idempotent) this.producers.record(header, offset);
    else this.producers.noteId(header.producerId);
    return { kind: 'appended', baseOffset: offset };
  }

  /** Wakes fetches waiting for data; called once per produce request, after all appends. */
  notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private maybeRoll(incoming: number): Segment {
    const a = this.active;
    // Positions are u32 in the index; never let a segment grow past 2^32 - 1.
    const cap = Math.min(this.config.segmentBytes, 0xffffffff - incoming);
    if (a.count > 0 && a.size + incoming > cap) this.roll();
    return this.active;
  }

  /** Closes the active segment and starts a new one at the log end. */
  private roll(): void {
    const a = this.active;
    a.sync();
    this.segments.push(Segment.create(this.dir, a.nextOffset));
    this.snapshotProducers(); // so a restart replays only the new active segment
  }

  /** Bytes available from `offset` to the end of the log (0 if none or out of range). */
  bytesAvailable(offset: number): number {
    let total = 0;
    for (const s of this.segments) {
      if (s.nextOffset <= offset) continue;
      const i = s.findBatch(Math.max(offset, s.baseOffset));
      if (i >= 0) total += s.bytesFrom(i);
    }
    return total;
  }

  /** Whole batches from the one holding `offset`, up to maxBytes (at least one batch). */
  read(offset: number, maxBytes: number): Buffer | null {
    for (const s of this.segments) {
      if (s.nextOffset <= offset) continue;
      const i = s.findBatch(Math.max(offset, s.baseOffset));
      if (i >= 0) return s.read(i, maxBytes);
    }
    return null;
  }

  /** ListOffsets by timestamp: first batch whose max timestamp is >= ts. */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } | null {
    for (const s of this.segments) {
      if (s.nextOffset <= this.logStartOffset) continue;
      const r = s.offsetForTimestamp(ts, this.logStartOffset);
      if (r) return r;
    }
    return null;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Deletes closed segments beyond the retention limits. Returns the number removed. */
  applyRetention(nowMs: number): number {
    let removed = 0;
    const { retentionMs, retentionBytes } = this.config;
    while (this.segments.length > 1) {
      const first = this.segments[0];
      const total = this.segments.reduce((a, s) => a + s.size, 0);
      const tooOld = retentionMs >= 0 && first.lastModifiedMs < nowMs - retentionMs && first.maxTimestamp < nowMs - retentionMs;
      const tooBig = retentionBytes >= 0 && total - first.size >= retentionBytes;
      if (!tooOld && !tooBig) break;
      this.snapshotProducers(); // the deleted batches can no longer be replayed
      this.segments.shift();
      first.delete();
      removed++;
    }
    if (this.segments[0].baseOffset > this.logStartOffset) {
      this.logStartOffset = this.segments[0].baseOffset;
      this.persistLogStart();
    }
    return removed;
  }

  /** Closes the files; `snapshot` false when the partition is being deleted. */
  close(snapshot = true): void {
    try {
      if (snapshot) this.snapshotProducers();
    } catch (e) {
      this.log('error', `${this.topic}-${this.partition}: producer-state snapshot not written: ${(e as Error).message}`);
    }
    for (const s of this.segments) s.close();
    this.segments = [];
    this.listeners.clear();
  }

  /** Closes the files and removes the directory. */
  destroy(): void {
    this.close(false);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  static dirFor(topicDir: string, partition: number): string {
    return path.join(topicDir, String(partition));
  }
}
