import * as fs from 'node:fs';
import * as path from 'node:path';
import { patchBatchOffsets, type BatchHeader } from '../protocol/record-batch';
import { Segment, type SegmentLogger } from './segment';

/** Per-topic settings that the log honours. -1 = unbounded. */
export interface LogConfig {
  readonly segmentBytes: number;
  readonly retentionMs: number;
  readonly retentionBytes: number;
}

/** What the idempotent producer bookkeeping remembers per producer id. */
interface ProducerEntry {
  epoch: number;
  lastSequence: number;
  /** Recent batches (baseSequence -> first offset), to answer retried duplicates. */
  recent: { baseSequence: number; lastSequence: number; baseOffset: number }[];
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
  private readonly producers = new Map<number, ProducerEntry>();
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
    p.logStartOffset = p.segments[0].baseOffset;
    return p;
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
    let producer: ProducerEntry | undefined;
    if (header.producerId >= 0 && header.baseSequence >= 0) {
      producer = this.producers.get(header.producerId);
      const lastSeq = header.baseSequence + header.lastOffsetDelta;
      if (producer) {
        if (header.producerEpoch < producer.epoch) {
          return { kind: 'fenced', detail: `epoch ${header.producerEpoch} < ${producer.epoch}` };
        }
        if (header.producerEpoch === producer.epoch) {
          const dup = producer.recent.find((r) => r.baseSequence === header.baseSequence && r.lastSequence === lastSeq);
          if (dup) return { kind: 'duplicate', baseOffset: dup.baseOffset };
          if (header.baseSequence !== producer.lastSequence + 1) {
            return { kind: 'out_of_order', detail: `expected sequence ${producer.lastSequence + 1}, got ${header.baseSequence}` };
          }
        } else if (header.baseSequence !== 0) {
          return { kind: 'out_of_order', detail: `new epoch must start at sequence 0, got ${header.baseSequence}` };
        }
      } else {
        // Unknown producer (new, or state lost with a broker restart): accept and start tracking.
        producer = { epoch: header.producerEpoch, lastSequence: -1, recent: [] };
        this.producers.set(header.producerId, producer);
      }
    }
    const seg = this.maybeRoll(header.size);
    const offset = seg.nextOffset;
    patchBatchOffsets(buf, header.position, offset, 0);
    seg.append(buf.subarray(header.position, header.position + header.size), offset, header.lastOffsetDelta, header.maxTimestamp, nowMs);
    if (producer) {
      producer.epoch = header.producerEpoch;
      producer.lastSequence = header.baseSequence + header.lastOffsetDelta;
      producer.recent.push({ baseSequence: header.baseSequence, lastSequence: producer.lastSequence, baseOffset: offset });
      if (producer.recent.length > 5) producer.recent.shift();
    }
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
    if (a.count > 0 && a.size + incoming > cap) {
      a.sync();
      this.segments.push(Segment.create(this.dir, a.nextOffset));
    }
    return this.active;
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
      const r = s.offsetForTimestamp(ts);
      if (r) return { offset: Math.max(r.offset, this.logStartOffset), timestamp: r.timestamp };
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
      this.segments.shift();
      first.delete();
      removed++;
    }
    this.logStartOffset = Math.max(this.logStartOffset, this.segments[0].baseOffset);
    return removed;
  }

  close(): void {
    for (const s of this.segments) s.close();
    this.segments = [];
    this.listeners.clear();
  }

  /** Closes the files and removes the directory. */
  destroy(): void {
    this.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  static dirFor(topicDir: string, partition: number): string {
    return path.join(topicDir, String(partition));
  }
}
