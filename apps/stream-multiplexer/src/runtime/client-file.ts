/**
 * What the multiplexer holds of one open client file between Kafka and its device: the
 * superblocks taken (in sequence order) and not yet durable, the codec, the SHA-256 of the bytes
 * made durable so far, and who waits for what (the spool for a superblock's placement, the
 * commands for the open record, the close and the abort).
 */
import { createHash, type Hash } from 'node:crypto';
import type { OpenRecord, SuperblockCodec } from '@deltaflow/tape';
import type { DeviceRuntime } from './device';

/** A superblock taken from sov.superblocks, waiting for its run to be durable. */
export interface PendingSuperblock {
  readonly seq: number;
  readonly last: boolean;
  readonly payload: Uint8Array;
  readonly crc: number;
  readonly partition: number;
  readonly offset: bigint;
  /** when it was taken (ms), for the latency limit */
  readonly takenAt: number;
}

/** A promise with its settle functions. */
export class Deferred<T = void> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
  constructor() {
    // a waiter nobody awaits any more must not crash the process
    this.promise.catch(() => undefined);
  }
}

export interface CloseRequest {
  readonly superblocks: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly done: Deferred;
}

export class ClientFileRuntime {
  /** the next sequence number to take from Kafka */
  next: number;
  /** taken, not yet handed to the device, in sequence order */
  readonly queue: PendingSuperblock[] = [];
  /** handed to the device, not yet durable, in sequence order */
  readonly inflight: PendingSuperblock[] = [];
  /** taken ahead of `next` (requests in flight together landed out of order), waiting for the gap */
  readonly ahead = new Map<number, PendingSuperblock>();
  /** since when a gap holds superblocks back (ms), or null */
  aheadSince: number | null = null;
  device: DeviceRuntime | null = null;
  /** the open record still has to be written (it is not on any volume) */
  openPending: boolean;
  readonly opened = new Deferred();
  closeRequest: CloseRequest | null = null;
  abortRequest: { readonly reason: string; readonly done: Deferred } | null = null;
  /** the close (abort) record is written, waiting for the sync that makes it durable */
  closeWritten = false;
  /** when its last run was handed to the device (round robin) */
  servedAt = 0;
  abortWritten = false;
  /** SHA-256 of superblocks 0..hashed-1 (null after a restart: the bytes before are not here) */
  private readonly hash: Hash | null;
  private hashed: number;
  /** waiters for "superblock seq is placed", sorted by seq */
  private placedWaiters: Array<{ seq: number; d: Deferred }> = [];
  /** the sequence number flagged last, once taken */
  lastSeq: number | null = null;
  /** placed superblocks and plaintext bytes (as the decider's state says, updated on durability) */
  placed: number;
  placedBytes: number;

  constructor(
    readonly open: OpenRecord,
    readonly codec: SuperblockCodec,
    placed: { superblocks: number; bytes: number; last: boolean },
    openPending: boolean,
  ) {
    this.next = placed.superblocks;
    this.placed = placed.superblocks;
    this.placedBytes = placed.bytes;
    this.hashed = placed.superblocks;
    this.hash = placed.superblocks === 0 ? createHash('sha256') : null;
    if (placed.last) this.lastSeq = placed.superblocks - 1;
    this.openPending = openPending;
    if (!openPending) this.opened.resolve();
  }

  get incarnation(): string {
    return this.open.incarnation;
  }

  get stream(): string {
    return this.open.stream;
  }

  get clientFile(): string {
    return this.open.clientFile;
  }

  /** payload bytes held (queued and in flight) */
  heldBytes(): number {
    let n = 0;
    for (const p of this.queue) n += p.payload.length;
    for (const p of this.inflight) n += p.payload.length;
    for (const p of this.ahead.values()) n += p.payload.length;
    return n;
  }

  /** Resolves once superblock `seq` is placed (durable and its RunPlaced published). */
  placedPromise(seq: number): Promise<void> {
    if (seq < this.placed) return Promise.resolve();
    const d = new Deferred();
    let i = this.placedWaiters.length;
    while (i > 0 && this.placedWaiters[i - 1].seq > seq) i--;
    this.placedWaiters.splice(i, 0, { seq, d });
    return d.promise;
  }

  /** Superblocks up to `placed` (exclusive) are placed: their waiters are released. */
  notePlaced(placed: number, bytes: number): void {
    this.placed = Math.max(this.placed, placed);
    this.placedBytes = bytes;
    let i = 0;
    while (i < this.placedWaiters.length && this.placedWaiters[i].seq < this.placed) this.placedWaiters[i++].d.resolve();
    if (i) this.placedWaiters.splice(0, i);
  }

  /** Everything waiting is released (the file was aborted: its superblocks are consumed, not placed). */
  releaseAll(): void {
    for (const w of this.placedWaiters) w.d.resolve();
    this.placedWaiters = [];
  }

  /** Hashes durable superblocks in sequence order (from the in-flight list, as runs become durable). */
  hashDurable(sbs: readonly PendingSuperblock[]): void {
    for (const s of sbs) {
      if (s.seq !== this.hashed) return;
      this.hash?.update(s.payload);
      this.hashed++;
    }
  }

  /** The SHA-256 of every superblock when this process saw them all, else null. */
  sha256(): string | null {
    return this.hash && this.hashed === this.placed ? this.hash.copy().digest('hex') : null;
  }

  /** The file's superblocks are all placed and its close may be written. */
  closeDue(): boolean {
    const c = this.closeRequest;
    return !!c && !this.abortRequest && this.ahead.size === 0 && this.queue.length === 0 && this.inflight.length === 0 && this.placed === c.superblocks && !this.openPending;
  }
}
