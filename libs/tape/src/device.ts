import * as fs from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { Throttle } from '@deltaflow/core';
import { TapeIoError, TapeNotFoundError, TapeStateError, TapeValidationError } from './errors';
import { Addressing, HEADER_LENGTH, MAX_SUPERBLOCK_PAYLOAD } from './format';
import { assertVolser, volumePath } from './names';

/*
 * A device writes and reads one mounted volume at a time. Positions are opaque to callers: a byte
 * offset on a file device, a logical block number on a tape device (one record per block). The
 * volume format (writer.ts) is written once against this interface.
 */

/** What mount() reports. */
export interface MountInfo {
  readonly volser: string;
  /** position after the last record on the volume */
  readonly end: number;
  /** bytes on the volume */
  readonly usedBytes: number;
}

export interface Device {
  readonly name: string;
  readonly addressing: Addressing;
  /** capacity of each new volume, in bytes */
  readonly capacity: number;
  /** gap between two wanted extents, in position units, below which reading through beats locating */
  readonly readThroughGap: number;
  /** the mounted volume, or null */
  readonly mounted: string | null;
  /** Volumes this device can mount. */
  list(): Promise<string[]>;
  /** Creates a blank volume (ILLEGAL_STATE if it exists) and mounts it. */
  create(volser: string): Promise<MountInfo>;
  /** Mounts an existing volume (NOT_FOUND if none), unmounting the current one. */
  mount(volser: string): Promise<MountInfo>;
  unmount(): Promise<void>;
  /** Appends records (each given as its parts) at the end; returns each record's position. Durable after sync(). */
  append(records: ReadonlyArray<readonly Buffer[]>): Promise<number[]>;
  sync(): Promise<void>;
  /** Position after the last record. */
  end(): number;
  /** Bytes used on the mounted volume. */
  usedBytes(): number;
  /**
   * Reads `extent` position units from `position` (fewer at the end of the volume): a file device
   * returns one buffer of bytes, a tape device one buffer per block.
   */
  read(position: number, extent: number): Promise<Buffer[]>;
  /** Cuts the volume at `position` (a torn tail after a crash), so appending continues there. */
  truncate(position: number): Promise<void>;
  /** Erases a volume (scratch): it may be labelled anew. Must not be mounted. */
  scratch(volser: string): Promise<void>;
}

/** A device that passes every call to `inner`: the base of wrappers that time or fail some calls. */
export class DelegatingDevice implements Device {
  constructor(readonly inner: Device) {}
  get name(): string {
    return this.inner.name;
  }
  get addressing(): Addressing {
    return this.inner.addressing;
  }
  get capacity(): number {
    return this.inner.capacity;
  }
  get readThroughGap(): number {
    return this.inner.readThroughGap;
  }
  get mounted(): string | null {
    return this.inner.mounted;
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  create(volser: string): Promise<MountInfo> {
    return this.inner.create(volser);
  }
  mount(volser: string): Promise<MountInfo> {
    return this.inner.mount(volser);
  }
  unmount(): Promise<void> {
    return this.inner.unmount();
  }
  append(records: ReadonlyArray<readonly Buffer[]>): Promise<number[]> {
    return this.inner.append(records);
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  end(): number {
    return this.inner.end();
  }
  usedBytes(): number {
    return this.inner.usedBytes();
  }
  read(position: number, extent: number): Promise<Buffer[]> {
    return this.inner.read(position, extent);
  }
  truncate(position: number): Promise<void> {
    return this.inner.truncate(position);
  }
  scratch(volser: string): Promise<void> {
    return this.inner.scratch(volser);
  }
}

/** Modeled time, in seconds; devices advance it. Optionally also sleeps in real time (scaled). */
export class VirtualClock {
  private t = 0;
  constructor(readonly opts: { realTime?: boolean; speedup?: number } = {}) {}
  /** seconds since the clock started */
  get now(): number {
    return this.t;
  }
  /** Moves time forward by `seconds` (a producer waiting, a drive busy). */
  async advance(seconds: number): Promise<void> {
    if (seconds > 0) await this.advanceTo(this.t + seconds);
  }
  async advanceTo(t: number): Promise<void> {
    if (t <= this.t) return;
    const dt = t - this.t;
    this.t = t;
    if (this.opts.realTime) await new Promise((r) => setTimeout(r, (dt * 1000) / (this.opts.speedup ?? 1)));
  }
}

async function openFile(file: string, flags: string): Promise<FileHandle> {
  try {
    return await open(file, flags);
  } catch (e: any) {
    if (e?.code === 'ENOENT') throw new TapeNotFoundError(`no volume file ${file}`, file);
    if (e?.code === 'EEXIST') throw new TapeStateError(`volume file ${file} already exists`);
    throw new TapeIoError(`cannot open ${file}: ${e?.message ?? e}`, e);
  }
}

export interface FileDeviceOptions {
  readonly name?: string;
  /** directory holding `<VOLSER>.vol` files */
  readonly dir: string;
  /** capacity of each new volume in bytes */
  readonly capacity: number;
  /** optional real-time rate limit of reads and writes, bytes/s */
  readonly rateBytesPerSec?: number;
  /** how far the rate limit lets a device that was idle run ahead, in seconds of transfer (its buffer; default 1) */
  readonly burstSeconds?: number;
  /** read-through threshold in bytes (default 0: a file seeks for free, so only the runs asked for are read) */
  readonly readThroughGap?: number;
  /** mount volumes read-only (a reader on a read-only mount of the volume directory); create, append, truncate and scratch are refused */
  readonly readOnly?: boolean;
}

/** A directory of volume files; positions are byte offsets. */
export class FileDevice implements Device {
  readonly name: string;
  readonly addressing = 'byte' as const;
  readonly capacity: number;
  readonly readThroughGap: number;
  private fh: FileHandle | null = null;
  private volser: string | null = null;
  private size = 0;
  private readonly throttle?: Throttle;

  constructor(readonly opts: FileDeviceOptions) {
    if (!Number.isSafeInteger(opts.capacity) || opts.capacity < 1 << 16) throw new TapeValidationError('capacity must be ≥ 64 KiB', 'capacity');
    this.name = opts.name ?? `file:${opts.dir}`;
    this.capacity = opts.capacity;
    this.readThroughGap = opts.readThroughGap ?? 0; // a file seeks for free: read only the runs asked for
    if (opts.rateBytesPerSec !== undefined) {
      if (!(opts.rateBytesPerSec > 0)) throw new TapeValidationError('rateBytesPerSec must be positive', 'rateBytesPerSec');
      if (opts.burstSeconds !== undefined && !(opts.burstSeconds >= 0 && Number.isFinite(opts.burstSeconds))) throw new TapeValidationError('burstSeconds must be zero or more', 'burstSeconds');
      this.throttle = new Throttle(opts.rateBytesPerSec, (opts.burstSeconds ?? 1) * 1000);
    }
  }

  get mounted(): string | null {
    return this.volser;
  }

  /** The file of a volume (the volser is validated, so the path stays inside the directory). */
  pathOf(volser: string): string {
    return volumePath(this.opts.dir, volser);
  }

  async list(): Promise<string[]> {
    return fs
      .readdirSync(this.opts.dir)
      .filter((f) => /^[A-Z0-9]{1,6}\.vol$/.test(f))
      .map((f) => f.slice(0, -4))
      .sort();
  }

  private assertWritable(what: string): void {
    if (this.opts.readOnly) throw new TapeStateError(`device ${this.name} is read-only: cannot ${what}`);
  }

  async create(volser: string): Promise<MountInfo> {
    this.assertWritable(`create ${volser}`);
    await this.unmount();
    this.fh = await openFile(this.pathOf(volser), 'wx+');
    this.volser = volser;
    this.size = 0;
    return { volser, end: 0, usedBytes: 0 };
  }

  async mount(volser: string): Promise<MountInfo> {
    if (this.volser === volser && this.fh) return { volser, end: this.size, usedBytes: this.size };
    await this.unmount();
    const fh = await openFile(this.pathOf(volser), this.opts.readOnly ? 'r' : 'r+');
    this.fh = fh;
    this.volser = volser;
    this.size = (await fh.stat()).size;
    return { volser, end: this.size, usedBytes: this.size };
  }

  async unmount(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.volser = null;
    if (fh) await fh.close();
  }

  private handle(): FileHandle {
    if (!this.fh) throw new TapeStateError(`device ${this.name}: no volume mounted`);
    return this.fh;
  }

  async append(records: ReadonlyArray<readonly Buffer[]>): Promise<number[]> {
    this.assertWritable('append');
    const fh = this.handle();
    const positions: number[] = [];
    const parts: Buffer[] = [];
    let at = this.size;
    for (const r of records) {
      positions.push(at);
      for (const p of r) {
        parts.push(p);
        at += p.length;
      }
    }
    const total = at - this.size;
    await this.throttle?.take(total);
    try {
      let done = 0;
      let i = 0;
      let skip = 0;
      while (done < total) {
        // writev at most 1024 buffers per call (IOV_MAX)
        const batch = parts.slice(i, i + 1024);
        if (skip) batch[0] = batch[0].subarray(skip);
        const n = (await fh.writev(batch, this.size + done)).bytesWritten;
        done += n;
        // advance over what was written
        let left = n;
        while (left > 0 && i < parts.length) {
          const rest = parts[i].length - skip;
          if (left >= rest) {
            left -= rest;
            i++;
            skip = 0;
          } else {
            skip += left;
            left = 0;
          }
        }
      }
    } catch (e) {
      throw new TapeIoError(`write to volume ${this.volser} at ${this.size} failed`, e);
    }
    this.size = at;
    return positions;
  }

  async sync(): Promise<void> {
    if (this.fh) await this.fh.datasync();
  }

  end(): number {
    return this.size;
  }

  usedBytes(): number {
    return this.size;
  }

  async read(position: number, extent: number): Promise<Buffer[]> {
    const fh = this.handle();
    const n = Math.max(0, Math.min(extent, this.size - position));
    const buf = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const { bytesRead } = await fh.read(buf, done, n - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    await this.throttle?.take(done);
    return [done === n ? buf : buf.subarray(0, done)];
  }

  async truncate(position: number): Promise<void> {
    this.assertWritable('truncate');
    const fh = this.handle();
    await fh.truncate(position);
    this.size = position;
  }

  async scratch(volser: string): Promise<void> {
    assertVolser(volser);
    this.assertWritable(`scratch ${volser}`);
    if (this.volser === volser) throw new TapeStateError(`volume ${volser} is mounted on ${this.name}`);
    try {
      fs.unlinkSync(this.pathOf(volser));
    } catch (e: any) {
      if (e?.code === 'ENOENT') throw new TapeNotFoundError(`no volume ${volser}`, this.pathOf(volser));
      throw new TapeIoError(`cannot scratch ${volser}`, e);
    }
  }
}

export interface TapeModelOptions {
  readonly name?: string;
  /** bytes per cartridge */
  readonly capacity: number;
  /** native streaming rate, bytes/s (LTO-9: 400e6) */
  readonly rateBytesPerSec: number;
  /** slowest speed the drive can match without stopping, bytes/s (default rate/3) */
  readonly minStreamingBytesPerSec?: number;
  /** fixed cost of a LOCATE, s (default 3) */
  readonly locateBaseSec?: number;
  /** LOCATE speed over the tape, bytes/s (default 8 × rate): the cost grows with the distance */
  readonly locateBytesPerSec?: number;
  /** a stop and backhitch when fed below the minimum streaming speed, s (default 2) */
  readonly startStopSec?: number;
  /** load and thread a cartridge, s (default 15); unloading rewinds at the locate speed */
  readonly loadSec?: number;
  readonly clock?: VirtualClock;
}

interface ModelVolume {
  blocks: Buffer[];
  /** byte offset of each block's start on the tape; one more entry than blocks */
  starts: number[];
}

/**
 * A tape drive model: one record per logical block, volumes kept in memory, and a virtual clock
 * that every operation advances by its modeled cost (streaming transfer, LOCATE growing with the
 * distance, shoe-shining when fed below the minimum streaming speed, load and rewind), so
 * benchmarks and tests measure tape time deterministically. With `clock.opts.realTime` it also
 * sleeps.
 */
export class TapeModelDevice implements Device {
  readonly name: string;
  readonly addressing = 'block' as const;
  readonly capacity: number;
  readonly clock: VirtualClock;
  private readonly volumes = new Map<string, ModelVolume>();
  private volser: string | null = null;
  private head = 0;
  private lastOp: 'read' | 'write' | null = null;
  private busyUntil = 0;
  private readonly p: Required<Omit<TapeModelOptions, 'name' | 'clock'>>;
  /** counters for benchmarks */
  readonly stats = { locates: 0, locateSec: 0, startStops: 0, bytesRead: 0, bytesWritten: 0, transferSec: 0 };

  constructor(opts: TapeModelOptions) {
    this.name = opts.name ?? 'tape-model';
    this.capacity = opts.capacity;
    this.clock = opts.clock ?? new VirtualClock();
    this.p = {
      capacity: opts.capacity,
      rateBytesPerSec: opts.rateBytesPerSec,
      minStreamingBytesPerSec: opts.minStreamingBytesPerSec ?? opts.rateBytesPerSec / 3,
      locateBaseSec: opts.locateBaseSec ?? 3,
      locateBytesPerSec: opts.locateBytesPerSec ?? opts.rateBytesPerSec * 8,
      startStopSec: opts.startStopSec ?? 2,
      loadSec: opts.loadSec ?? 15,
    };
  }

  /** Blocks of a gap costing as much to read through as to locate past (full-size superblock blocks). */
  get readThroughGap(): number {
    const { locateBaseSec, rateBytesPerSec, locateBytesPerSec } = this.p;
    const bytes = locateBaseSec / (1 / rateBytesPerSec - 1 / locateBytesPerSec);
    return Math.max(1, Math.floor(bytes / (MAX_SUPERBLOCK_PAYLOAD + HEADER_LENGTH)));
  }

  get mounted(): string | null {
    return this.volser;
  }

  /** Test hook: the blocks of a volume (to damage them). */
  blocksOf(volser: string): Buffer[] {
    const v = this.volumes.get(volser);
    if (!v) throw new TapeNotFoundError(`no volume ${volser}`, volser);
    return v.blocks;
  }

  async list(): Promise<string[]> {
    return [...this.volumes.keys()].sort();
  }

  async create(volser: string): Promise<MountInfo> {
    assertVolser(volser);
    if (this.volumes.has(volser)) throw new TapeStateError(`volume ${volser} already exists`);
    this.volumes.set(volser, { blocks: [], starts: [0] });
    return this.mount(volser);
  }

  async mount(volser: string): Promise<MountInfo> {
    const v = this.volumes.get(volser);
    if (!v) throw new TapeNotFoundError(`no volume ${volser}`, volser);
    if (this.volser !== volser) {
      await this.unmount();
      await this.clock.advanceTo(Math.max(this.clock.now, this.busyUntil) + this.p.loadSec);
      this.volser = volser;
      this.head = 0;
      this.lastOp = null;
    }
    return { volser, end: v.blocks.length, usedBytes: v.starts[v.blocks.length] };
  }

  async unmount(): Promise<void> {
    if (!this.volser) return;
    const v = this.vol();
    const rewind = v.starts[this.head] / this.p.locateBytesPerSec;
    await this.clock.advanceTo(Math.max(this.clock.now, this.busyUntil) + rewind);
    this.volser = null;
  }

  private vol(): ModelVolume {
    const v = this.volser ? this.volumes.get(this.volser) : undefined;
    if (!v) throw new TapeStateError(`device ${this.name}: no volume mounted`);
    return v;
  }

  /** Charges positioning to `block` and the transfer of `bytes`, streaming if the head is there. */
  private async operate(op: 'read' | 'write', block: number, bytes: number): Promise<void> {
    const v = this.vol();
    const now = this.clock.now;
    const start = Math.max(now, this.busyUntil);
    const transfer = bytes / this.p.rateBytesPerSec;
    let penalty = 0;
    if (block !== this.head || this.lastOp !== op) {
      const distance = Math.abs(v.starts[Math.min(block, v.blocks.length)] - v.starts[Math.min(this.head, v.blocks.length)]);
      penalty = block === this.head ? this.p.startStopSec : this.p.locateBaseSec + distance / this.p.locateBytesPerSec;
      if (block !== this.head) {
        this.stats.locates++;
        this.stats.locateSec += penalty;
      }
    } else {
      const idle = now - this.busyUntil;
      // The drive matches a slower host down to its minimum speed; below, it stops and backhitches.
      // `idle` is how long the host took to hand over these bytes: its feed rate is bytes / idle.
      if (idle > 0 && bytes / idle < this.p.minStreamingBytesPerSec) {
        penalty = this.p.startStopSec;
        this.stats.startStops++;
      }
    }
    this.busyUntil = start + penalty + transfer;
    this.stats.transferSec += transfer;
    this.lastOp = op;
    await this.clock.advanceTo(this.busyUntil);
  }

  async append(records: ReadonlyArray<readonly Buffer[]>): Promise<number[]> {
    const v = this.vol();
    const at = v.blocks.length;
    const blocks = records.map((r) => (r.length === 1 ? Buffer.from(r[0]) : Buffer.concat(r as Buffer[])));
    const bytes = blocks.reduce((n, b) => n + b.length, 0);
    await this.operate('write', at, bytes);
    const positions: number[] = [];
    for (const b of blocks) {
      positions.push(v.blocks.length);
      v.blocks.push(b);
      v.starts.push(v.starts[v.starts.length - 1] + b.length);
    }
    this.head = v.blocks.length;
    this.stats.bytesWritten += bytes;
    return positions;
  }

  async sync(): Promise<void> {
    // Writing a filemark flushes the drive buffer; modeled as free (the transfer was charged).
  }

  end(): number {
    return this.vol().blocks.length;
  }

  usedBytes(): number {
    const v = this.vol();
    return v.starts[v.blocks.length];
  }

  async read(position: number, extent: number): Promise<Buffer[]> {
    const v = this.vol();
    const from = Math.min(position, v.blocks.length);
    const to = Math.min(v.blocks.length, position + extent);
    await this.operate('read', from, v.starts[to] - v.starts[from]);
    this.head = to;
    this.stats.bytesRead += v.starts[to] - v.starts[from];
    return v.blocks.slice(from, to);
  }

  async truncate(position: number): Promise<void> {
    const v = this.vol();
    v.blocks.length = Math.min(position, v.blocks.length);
    v.starts.length = v.blocks.length + 1;
    this.head = Math.min(this.head, v.blocks.length);
  }

  async scratch(volser: string): Promise<void> {
    if (this.volser === volser) throw new TapeStateError(`volume ${volser} is mounted on ${this.name}`);
    if (!this.volumes.delete(volser)) throw new TapeNotFoundError(`no volume ${volser}`, volser);
  }
}
