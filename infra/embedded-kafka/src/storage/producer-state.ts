import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '@deltaflow/checksum';
import type { BatchHeader } from '../protocol/record-batch';
import { fsyncDir } from '@deltaflow/core';

/**
 * Idempotent-producer state of one partition: per producer id, its epoch, its last sequence and
 * its last few batches (to answer a retried batch with the offsets it got the first time).
 *
 * The state is derived data, as in Kafka (ProducerStateManager): every idempotent batch carries
 * producerId, producerEpoch and baseSequence in its header, so the state is rebuilt at start
 * from the log. A snapshot (`producer-state.snapshot` in the partition directory, written
 * atomically at each segment roll, before retention deletes segments, and at close) holds the
 * state as of an offset, so only the batches after it are read again:
 *
 *   <crc32c of json, 8 hex digits> <json {"v":1,"offset":N,"producers":[[id,epoch,lastSeq,[[baseSeq,lastSeq,baseOffset]...]]...]}>\n
 *
 * A missing, damaged or impossible snapshot (its offset beyond the log end) means a full rescan.
 * Entries never expire (Kafka drops producers idle for producer.id.expiration.ms); an entry is a
 * few dozen bytes per producer id and partition.
 */
export const RECENT_BATCHES = 5; // Kafka keeps the metadata of 5 batches (max.in.flight 5)
const SNAPSHOT_FILE = 'producer-state.snapshot';

interface RecentBatch {
  readonly baseSequence: number;
  readonly lastSequence: number;
  readonly baseOffset: number;
}

interface ProducerEntry {
  epoch: number;
  lastSequence: number;
  recent: RecentBatch[];
}

export type SequenceCheck =
  | { kind: 'ok' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'out_of_order'; detail: string }
  | { kind: 'fenced'; detail: string };

/** True for batches of an idempotent producer (kafkajs idempotent: true, librdkafka enable.idempotence). */
export function isIdempotent(h: BatchHeader): boolean {
  return h.producerId >= 0 && h.baseSequence >= 0;
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();
  /** Highest producer id seen (the id allocator never hands out one at or below it). */
  maxProducerId = -1;
  /** Whether the state changed since the last snapshot. */
  dirty = false;

  get size(): number {
    return this.producers.size;
  }

  /** Checks an incoming idempotent batch against the producer's state (no change). */
  check(h: BatchHeader): SequenceCheck {
    const p = this.producers.get(h.producerId);
    // Unknown producer (new, or its state predates everything this partition keeps): accepted.
    if (!p) return { kind: 'ok' };
    if (h.producerEpoch < p.epoch) return { kind: 'fenced', detail: `epoch ${h.producerEpoch} < ${p.epoch}` };
    if (h.producerEpoch > p.epoch) {
      return h.baseSequence === 0 ? { kind: 'ok' } : { kind: 'out_of_order', detail: `new epoch must start at sequence 0, got ${h.baseSequence}` };
    }
    const lastSequence = h.baseSequence + h.lastOffsetDelta;
    const dup = p.recent.find((r) => r.baseSequence === h.baseSequence && r.lastSequence === lastSequence);
    if (dup) return { kind: 'duplicate', baseOffset: dup.baseOffset };
    if (h.baseSequence !== p.lastSequence + 1) {
      return { kind: 'out_of_order', detail: `expected sequence ${p.lastSequence + 1}, got ${h.baseSequence}` };
    }
    return { kind: 'ok' };
  }

  /** Records an idempotent batch stored at `baseOffset` (an append, or a batch read back from the log). */
  record(h: BatchHeader, baseOffset: number): void {
    let p = this.producers.get(h.producerId);
    this.noteId(h.producerId);
    if (p && h.producerEpoch < p.epoch) return; // a fenced epoch never reaches the log
    if (!p || h.producerEpoch > p.epoch) {
      p = { epoch: h.producerEpoch, lastSequence: -1, recent: [] };
      this.producers.set(h.producerId, p);
    }
    p.lastSequence = h.baseSequence + h.lastOffsetDelta;
    p.recent.push({ baseSequence: h.baseSequence, lastSequence: p.lastSequence, baseOffset });
    if (p.recent.length > RECENT_BATCHES) p.recent.shift();
    this.dirty = true;
  }

  /** Notes a producer id seen in the log, idempotent batch or not. */
  noteId(producerId: number): void {
    if (producerId > this.maxProducerId) this.maxProducerId = producerId;
  }

  /** Writes the state as of `offset` (the log end) atomically into `dir`. */
  writeSnapshot(dir: string, offset: number): void {
    const producers = [...this.producers].map(([id, p]) => [id, p.epoch, p.lastSequence, p.recent.map((r) => [r.baseSequence, r.lastSequence, r.baseOffset])]);
    const json = JSON.stringify({ v: 1, offset, maxProducerId: this.maxProducerId, producers });
    const line = `${crc32c(Buffer.from(json)).toString(16).padStart(8, '0')} ${json}\n`;
    const file = path.join(dir, SNAPSHOT_FILE);
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, line);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    fsyncDir(dir);
    this.dirty = false;
  }

  /**
   * Loads the snapshot of `dir` if it is intact; returns the offset it covers up to (batches at
   * or after it must be replayed), or null (nothing usable: replay everything).
   */
  loadSnapshot(dir: string): { offset: number } | { problem: string } | null {
    const file = path.join(dir, SNAPSHOT_FILE);
    if (!fs.existsSync(file)) return null;
    const data = fs.readFileSync(file);
    const text = data.toString('utf8');
    if (data.length < 11 || text[8] !== ' ' || !text.endsWith('\n')) return { problem: 'truncated' };
    const json = data.subarray(9, data.length - 1);
    if (Number.parseInt(text.slice(0, 8), 16) !== crc32c(json)) return { problem: 'CRC mismatch' };
    let parsed: { v: number; offset: number; maxProducerId: number; producers: [number, number, number, [number, number, number][]][] };
    try {
      parsed = JSON.parse(json.toString('utf8'));
    } catch (e) {
      return { problem: (e as Error).message };
    }
    if (parsed.v !== 1 || !Number.isSafeInteger(parsed.offset) || !Array.isArray(parsed.producers)) return { problem: 'unknown layout' };
    this.producers.clear();
    for (const [id, epoch, lastSequence, recent] of parsed.producers) {
      this.producers.set(id, { epoch, lastSequence, recent: recent.map(([baseSequence, last, baseOffset]) => ({ baseSequence, lastSequence: last, baseOffset })) });
      this.noteId(id);
    }
    this.noteId(parsed.maxProducerId);
    this.dirty = false;
    return { offset: parsed.offset };
  }

  /** Forgets everything (a snapshot that turned out not to fit the log). */
  clear(): void {
    this.producers.clear();
    this.maxProducerId = -1;
  }

  static snapshotPath(dir: string): string {
    return path.join(dir, SNAPSHOT_FILE);
  }
}
